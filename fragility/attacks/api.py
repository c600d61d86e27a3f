"""`attack()`: the one public entry point of the attacks; validates, then runs a loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch

from .. import metrics
from .._json import jsonable
from ..defences import defended, get_defence
from ..errors import ConfigError
from ..explainers import get_method, saliency_map
from ..explainers._core import pick_target
from ..models.model import as_model, evaluation
from ..registry import check_parameters
from ..validation import check_images
from . import iterative, pgd, random_sign
from .registry import Reference, all_parameters, get_attack
from .result import AttackResult
from .setting import Setting, evaluate
from .tracking import Tracker

_RUNNERS = {"interpretation": iterative.run, "baseline": random_sign.run, "label": pgd.run}
_NO_SURROGATE = {"baseline": "none: random sign noise, no gradient",
                 "label": "none: gradient of the real network's cross-entropy"}
SIMILARITY = ("spearman", "top_k_intersection", "center_shift")


def attack(model: torch.nn.Module, images: torch.Tensor, method: str = "gradient",
           attack: str = "top-k", *, method_options: dict | None = None, target=None, mask=None,
           defence: str | None = None, defence_options: dict | None = None,
           callback: Callable[[int, dict], object] | None = None, baseline: bool = False,
           **parameters) -> AttackResult:
    """Attack the interpretation `method` of `model` on `images` (N,3,H,W) in [0,1].

    parameters: the attack's declared parameters (`fg.get_attack(attack).parameters`), e.g.
    epsilon and step_size (L-inf radius and step, in [0,1] units: 8/255 is "8" on the 0-255
    scale), steps, k (default 2% of the pixels), beta (the surrogate's softplus), region
    (targeted), target_map and gamma (target-map), criterion and draws (random-sign), seed.
    A parameter that only other attacks declare is ignored; an unknown name is an error.
    method_options: the method's parameters (`fg.get_method(method).parameters`).
    target: the class(es) explained, default the predicted one; the attack keeps the
    predicted label either way. mask: an object mask for the mass_in_mask metrics.
    defence: None, "beta-smoothing" or "smoothgrad" (`fg.defences()`), with defence_options.
    callback(step, row) gets each history row plus the best-so-far tensors "perturbed" and
    "perturbed_maps"; returning False stops the attack with the best iterate so far.
    baseline: also run the matching random-sign baseline (the same images, method, defence,
    eps, steps, k, region or target map and seed, its draws picked by this attack's
    dissimilarity) into `result.baseline`; random sign is its own baseline. The callback
    sees the attack's steps only.
    """
    spec = get_attack(attack)
    method_spec = defended(get_method(method), defence)
    model = as_model(model)
    images = check_images(images)
    n, _, height, width = images.shape
    values = _check_values(spec, parameters, height, width)
    options = method_spec.check({**dict(method_options or {}), **_defence_options(defence, defence_options)})
    if callback is not None and not callable(callback):
        raise ConfigError(f"callback must be callable(step, row) or None, got {type(callback).__name__}")

    device, dtype = model.device, _float_dtype(model, images.dtype)
    images = images.detach().to(device=device, dtype=dtype)
    shape = torch.Size((n, height, width))
    values = _tensor_values(spec, values, shape, device, dtype)
    mask_t = None if mask is None else metrics.expand_mask(mask, shape, "mask", ConfigError).to(device)

    with evaluation(model):
        setting = Setting(model, method_spec, options, images, _classes(target, n, device), values,
                          method_spec.scoring_options(options))
        original_maps, logits = evaluate(setting, images, options)
        labels = logits.argmax(dim=1)
        explained = pick_target(logits, target)
        setting = replace(setting, target=explained)
        start_maps = evaluate(setting, images)[0] if method_spec.stochastic else original_maps
        reference = Reference(original_maps, logits, labels, values["k"], values)
        tracker = Tracker(images, reference, spec.objective, keep_label=spec.kind != "label",
                          callback=callback, start_maps=start_maps)
        _RUNNERS[spec.kind](setting, tracker)
        history = tracker.finish()
        faithfulness = _faithfulness(model, images, method, method_options, explained, original_maps,
                                     values["k"]) if defence is not None else {}

    surrogate = (method_spec.surrogate_description(values["beta"]) if spec.kind == "interpretation"
                 else _NO_SURROGATE[spec.kind])
    result_metrics = {
        **{name: tracker.values[name] for name in SIMILARITY},
        "pearson": metrics.pearson(original_maps, tracker.maps),
        "ssim": metrics.ssim(original_maps, tracker.maps),
        "dissimilarity": tracker.values["dissimilarity"],
        **faithfulness,
    }
    if mask_t is not None:
        result_metrics["mass_in_mask_before"] = metrics.mass_in_mask(original_maps, mask_t)
        result_metrics["mass_in_mask_after"] = metrics.mass_in_mask(tracker.maps, mask_t)
    noise_floor = ({name: tracker.start_values[name] for name in SIMILARITY}
                   if method_spec.stochastic else None)
    config = {
        "method": method, "method_options": jsonable(options), "attack": attack,
        **{name: jsonable(value) for name, value in values.items()},
        "defence": defence, "target": None if target is None else explained.tolist(),
        "model": model.name, "surrogate": surrogate, "dissimilarity": spec.objective_description,
        "images": n, "image_size": [height, width], "device": str(device),
        "dtype": str(dtype).replace("torch.", ""), "mask": jsonable(mask_t),
    }
    if method_spec.stochastic:
        config["scoring_options"] = jsonable(setting.scoring_options)
    matching = None
    if baseline and spec.kind != "baseline":
        matching = _baseline(model, images, method, attack, parameters, method_options=method_options,
                             target=target, mask=mask, defence=defence, defence_options=defence_options)
    return AttackResult(
        perturbed=tracker.perturbed, original_maps=original_maps, perturbed_maps=tracker.maps,
        labels=labels, perturbed_labels=tracker.labels, labels_kept=tracker.labels == labels,
        found=tracker.found, metrics=result_metrics, history=history, config=config,
        surrogate=surrogate, steps_run=tracker.steps_run, stopped_early=tracker.stopped_early,
        noise_floor=noise_floor, images=images, baseline=matching)


def _baseline(model, images, method: str, of: str, parameters: dict, **options) -> AttackResult:
    """The random-sign run matching the attack `of` with `parameters`."""
    return attack(model, images, method, "random-sign", **options, **baseline_parameters(of, parameters))


def baseline_parameters(attack: str, parameters: dict) -> dict:
    """The random-sign baseline's parameters for an attack given `parameters`: those random
    sign declares too, and the attack's own dissimilarity as the criterion that picks draws
    (top-k for an attack on the label)."""
    spec = get_attack("random-sign")
    criterion = attack if get_attack(attack).kind == "interpretation" else "top-k"
    own = {name: value for name, value in parameters.items() if spec.parameter(name) is not None}
    return {**own, "criterion": criterion}


def _classes(target, n: int, device) -> torch.Tensor | None:
    """The explained classes as an (N,) tensor (checked against the logits later), or None."""
    if target is None:
        return None
    try:
        classes = torch.as_tensor(target, dtype=torch.long, device=device).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise ConfigError(f"target must be a class index or one per image, got {target!r}") from None
    if classes.numel() not in (1, n):
        raise ConfigError(f"target needs one class per image ({n}) or one for all, got {classes.numel()}")
    return classes.expand(n)


def _check_values(spec, parameters: dict, height: int, width: int) -> dict:
    """The attack's parameters, validated; names only other attacks declare are dropped."""
    known = all_parameters()
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise ConfigError(f"attack() has no parameter {', '.join(unknown)}; attack parameters: "
                          f"{', '.join(sorted(known))}")
    own = {name: value for name, value in parameters.items() if spec.parameter(name) is not None}
    values = check_parameters(spec.parameters, own, f"attack {spec.name!r}", height, width)
    values["k"] = metrics.check_k(values["k"], height * width)
    for name in ("step_size", "beta"):
        values.setdefault(name, None)
    criterion = get_attack(values["criterion"]) if "criterion" in values else spec
    for parameter in criterion.parameters:
        if parameter.kind in ("mask", "map") and not parameter.optional and values.get(parameter.name) is None:
            raise ConfigError(f"the {criterion.name!r} {'criterion' if criterion is not spec else 'attack'} "
                              f"needs {parameter.name}= ((H,W) or (N,H,W) = {(height, width)})")
    return values


def _defence_options(defence: str | None, options: dict | None) -> dict:
    if defence is None:
        if options:
            raise ConfigError("defence_options given without a defence; choose one of the defences")
        return {}
    prefix = {p.name for p in get_defence(defence).parameters}
    unknown = sorted(set(options or {}) - prefix)
    if unknown:
        raise ConfigError(f"defence {defence!r} has no option {', '.join(unknown)}; its options: "
                          f"{', '.join(sorted(prefix))}")
    return {f"defence_{name}": value for name, value in (options or {}).items()}


def _faithfulness(model, images, method, method_options, target, defended_maps, k) -> dict:
    """How close the defended map stays to the undefended one on the original images."""
    plain = get_method(method)
    options = plain.check(dict(method_options or {}))
    explanation = plain.fn(model, images, target, create_graph=False, **options)
    undefended = saliency_map(explanation.attributions.detach())
    return {"faithfulness_spearman": metrics.spearman(undefended, defended_maps),
            "faithfulness_top_k_intersection": metrics.top_k_intersection(undefended, defended_maps, k)}


def _float_dtype(model: torch.nn.Module, fallback: torch.dtype) -> torch.dtype:
    """The dtype the model computes in (its first floating parameter or buffer)."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return fallback


def _tensor_values(spec, values: dict, shape: torch.Size, device, dtype) -> dict:
    """Masks and maps among the parameters as (N,H,W) tensors on the model's device."""
    converted = dict(values)
    for name, value in values.items():
        parameter = spec.parameter(name)
        if value is None or parameter is None:
            continue
        if parameter.kind == "mask":
            converted[name] = metrics.expand_mask(value, shape, name, ConfigError).to(device)
        elif parameter.kind == "map":
            converted[name] = _target_map(value, shape, name).to(device=device, dtype=dtype)
    return converted


def _target_map(target_map, shape: torch.Size, name: str) -> torch.Tensor:
    """A user's map as (N,H,W), non-negative, each summing to 1; else ConfigError."""
    try:
        target = torch.as_tensor(target_map, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"{name} must be a numeric array of shape (H,W) or (N,H,W): {exc}") from None
    if target.dim() == 2:
        target = target.unsqueeze(0)
    if target.dim() != 3 or tuple(target.shape[1:]) != tuple(shape[1:]) or target.shape[0] not in (1, shape[0]):
        raise ConfigError(f"{name} must have shape (H,W) = {tuple(shape[1:])} or (N,H,W) = "
                          f"{tuple(shape)}, got {tuple(target.shape)}")
    total = target.sum(dim=(1, 2), keepdim=True)
    if not bool(torch.isfinite(target).all()) or bool((target < 0).any()) or bool((total <= 0).any()):
        raise ConfigError(f"{name} must be finite and non-negative with some mass in each map")
    return (target / total).expand(shape)
