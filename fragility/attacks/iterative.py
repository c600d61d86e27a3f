"""Algorithm 1 of Ghorbani, Abid & Zou (2019): the iterative interpretation attack.

x_0 = x_t; for each step, x <- x + alpha * sign(grad_x D(x_t, x)), projected onto the
L-inf ball of radius eps around x_t and onto [0,1]. The gradient is taken through the
method's smooth surrogate (a ReLU network's map is piecewise constant in x); every
candidate is then checked on the real network, and per image the iterate with the
largest dissimilarity whose label is unchanged is kept (the original when none is).
Both passes run in groups of images (Setting.groups) to bound their working set.
"""

from __future__ import annotations

import torch

from ..explainers import saliency_map
from ..explainers._core import gradient
from .setting import Setting, evaluate, signed_step
from .tracking import Tracker


def run(setting: Setting, tracker: Tracker) -> None:
    bounds = setting.ball()
    groups = setting.groups()
    objectives = [tracker.objective_for(group) for group in groups]
    x = setting.images
    for step in range(1, setting.steps + 1):
        # One double backprop through the surrogate per group ...
        options = setting.method.options_at(setting.options, step)
        grad = torch.cat([surrogate_gradient(setting, x[group], setting.target[group], objective, options)
                          for group, objective in zip(groups, objectives)])
        x = signed_step(x, grad, setting, bounds)
        # ... and one forward + backward of the real network to check the candidate.
        maps, logits = evaluate(setting, x)
        if not tracker.offer(step, x, maps, logits):
            return


def surrogate_gradient(setting: Setting, x: torch.Tensor, target: torch.Tensor, objective,
                       options: dict) -> torch.Tensor:
    """grad_x of sum D over the images `x`, through the method's smooth surrogate with the
    step's method options."""
    x = x.detach().requires_grad_(True)
    explanation = setting.method.differentiable(setting.model, x, target, setting.beta, **options)
    dissimilarity = objective(saliency_map(explanation.attributions), explanation.logits)
    return gradient(dissimilarity.sum(), x)
