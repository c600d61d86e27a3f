"""Defences that can be switched on for any explanation method.

A defence turns a method into another method (a `Method` like any other), so that
`explain`, `attack` and sweeps take it without knowing about it:

- "beta-smoothing" (Dombrowski et al., 2019): the explanation is computed on the network
  with every ReLU replaced by softplus(beta), which bounds the map's curvature and so the
  effect of small input changes. For methods with their own backward rule (DeepLIFT,
  guided backprop) the rule's softplus form is used.
- "smoothgrad" (Smilkov et al., 2017): the method's attributions averaged over noisy copies
  of the image.

The class is always picked, and the label checked, on the real network: a defence changes
only how the map is computed. Attacks on a defended method are adaptive (as in Dombrowski
et al.): they differentiate the defended explanation itself (it is smooth already) for
beta-smoothing, and the method's own surrogate on each noisy copy for SmoothGrad. By default
SmoothGrad's noise is the same draw (its seed) at every attack step, so the attack fits that
draw; `fresh_noise=True` draws new noise at every step instead (expectation over the noise,
Athalye et al., 2018). The maps are scored with noise independent of both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from .explainers import Explanation, Method
from .explainers.registry import step_seed
from .explainers._core import pick_target
from .explainers.smoothgrad import PIXEL_RANGE, noisy_copies
from .registry import Parameter, Registry

PREFIX = "defence_"   # a defence's options among the defended method's options


@dataclass(frozen=True)
class Defence:
    name: str
    title: str
    description: str
    parameters: tuple[Parameter, ...]
    wrap: Callable[[Method], Method]

    def prefixed(self) -> tuple[Parameter, ...]:
        """The defence's parameters as options of a defended method (defence_beta, ...)."""
        return tuple(replace(p, name=PREFIX + p.name) for p in self.parameters)


DEFENCES: Registry[Defence] = Registry("defence")


def defences() -> list[str]:
    """Names of the defences, in menu order."""
    return DEFENCES.names()


def get_defence(name: str) -> Defence:
    return DEFENCES.get(name)


def defended(method: Method, defence: str | None) -> Method:
    """`method` with `defence` switched on (the method itself for None)."""
    return method if defence is None else get_defence(defence).wrap(method)


def split_options(options: dict) -> tuple[dict, dict]:
    """(the method's own options, the defence's options without their prefix)."""
    own = {name: value for name, value in options.items() if not name.startswith(PREFIX)}
    theirs = {name[len(PREFIX):]: value for name, value in options.items() if name.startswith(PREFIX)}
    return own, theirs


def _real_logits_and_target(model, x, target, create_graph):
    logits = model(x) if create_graph else _no_grad_forward(model, x)
    return logits, pick_target(logits, target)


def _no_grad_forward(model, x):
    with torch.no_grad():
        return model(x)


def _beta_smoothing(method: Method) -> Method:
    spec = DEFENCES.get("beta-smoothing")

    def fn(model, x, target=None, *, create_graph=False, **options):
        own, defence = split_options(options)
        logits, target = _real_logits_and_target(model, x, target, create_graph)
        smooth = method.differentiable(model, x, target, defence["beta"], create_graph=create_graph, **own)
        return Explanation(smooth.attributions, logits)

    def surrogate(model, x, target, beta, create_graph=True, **options):
        own, defence = split_options(options)
        return method.differentiable(model, x, target, defence["beta"], create_graph=create_graph, **own)

    return _defended_method(method, spec, fn, surrogate,
                            lambda beta: "the beta-smoothed explanation itself (it is smooth); "
                                         "checked on the real network")


def _smoothgrad(method: Method) -> Method:
    spec = DEFENCES.get("smoothgrad")

    def averaged(explain, model, x, target, create_graph, options):
        own, defence = split_options(options)
        logits, target = _real_logits_and_target(model, x, target, create_graph)
        samples = defence["samples"]
        noisy = noisy_copies(x, samples, defence["sigma"] * PIXEL_RANGE, defence["seed"])
        each = explain(model, noisy, target.repeat_interleave(samples), create_graph, own)
        attributions = each.attributions.view(x.shape[0], samples, *each.attributions.shape[1:]).mean(dim=1)
        return Explanation(attributions, logits)

    def fn(model, x, target=None, *, create_graph=False, **options):
        return averaged(lambda m, z, t, g, o: method.fn(m, z, t, create_graph=g, **o),
                        model, x, target, create_graph, options)

    def surrogate(model, x, target, beta, create_graph=True, **options):
        return averaged(lambda m, z, t, g, o: method.differentiable(m, z, t, beta, create_graph=g, **o),
                        model, x, target, create_graph, options)

    defended_method = _defended_method(method, spec, fn, surrogate,
                                       lambda beta: f"{method.surrogate_description(beta)}, on each "
                                                    "noisy copy")
    def step_options(options, step):
        if not options[PREFIX + "fresh_noise"]:
            return options
        return {**options, PREFIX + "seed": step_seed(options[PREFIX + "seed"], step)}

    return replace(defended_method, seed_options=(*method.seed_options, PREFIX + "seed"), groupable=False,
                   points=lambda options: method.points(options) * options[PREFIX + "samples"] + 1,
                   step_options=step_options)


def _defended_method(method: Method, spec: Defence, fn, surrogate, description) -> Method:
    return replace(method, name=f"{method.name}+{spec.name}", fn=fn,
                   title=f"{method.title} with {spec.title}",
                   parameters=(*method.parameters, *spec.prefixed()), surrogate=surrogate,
                   surrogate_description=description)


DEFENCES.add("beta-smoothing", Defence(
    "beta-smoothing", "β-smoothing",
    "Computes the explanation on the network with every ReLU replaced by softplus(β), which "
    "bounds how much the map can bend under small input changes (Dombrowski et al., 2019).",
    (Parameter("beta", 3.0, "sharpness of the softplus the explanation is computed with "
               "(smaller: smoother)", low=0.0, low_inclusive=False, high=1e4, widget_high=100),),
    _beta_smoothing))
DEFENCES.add("smoothgrad", Defence(
    "smoothgrad", "SmoothGrad",
    "Averages the method's map over noisy copies of the image (Smilkov et al., 2017).",
    (Parameter("samples", 16, "noisy copies averaged", kind="int", low=1, high=10_000, widget_high=200),
     Parameter("sigma", 0.1, "noise level as a fraction of the pixel range", low=0.0, high=10.0),
     Parameter("seed", 0, "seed of the noise", kind="int", low=0, high=2**63 - 1, advanced=True),
     Parameter("fresh_noise", False, "attacks: draw fresh noise at every step (expectation over "
               "the noise, Athalye et al., 2018) instead of differentiating one fixed draw (the "
               "seed's) at every step", kind="bool", advanced=True)),
    _smoothgrad))
