"""`attack()`: the one public entry point of the attacks; validates, then runs a loop."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import metrics
from .._json import jsonable
from ..errors import ConfigError
from ..explainers import check_options, get_method
from ..models.model import as_model, evaluation
from ..smooth import DEFAULT_BETA
from ..validation import check_images, check_number
from . import iterative, pgd, random_sign
from .registry import Reference, get_attack
from .result import AttackResult
from .setting import Setting, evaluate
from .tracking import Tracker

DEFAULT_GAMMA = 1.0
_RUNNERS = {"interpretation": iterative.run, "baseline": random_sign.run, "label": pgd.run}
_NO_SURROGATE = {"baseline": "none: random sign noise, no gradient",
                 "label": "none: gradient of the real network's cross-entropy"}


def attack(model: torch.nn.Module, images: torch.Tensor, method: str = "gradient",
           attack: str = "top-k", epsilon: float = 8 / 255, steps: int = 100,
           step_size: float = 1 / 255, k: int = 100, beta: float = DEFAULT_BETA,
           region=None, target_map=None, gamma: float = DEFAULT_GAMMA, mask=None, seed: int = 0,
           callback: Callable[[int, dict], object] | None = None,
           method_options: dict | None = None) -> AttackResult:
    """Attack the interpretation `method` of `model` on `images` (N,3,H,W) in [0,1].

    epsilon, step_size: L-inf radius and step in [0,1] units (8/255 is "8" on the 0-255
    scale). k: pixels in the top-k set (top-k attack and the top_k_intersection metric).
    beta: softplus sharpness of the surrogate. region: (H,W) or (N,H,W) bool, needed by
    "targeted". target_map: (H,W) or (N,H,W) non-negative map, needed by "target-map",
    with gamma weighting its logit term. mask: optional object mask for the
    mass_in_mask_before/after metrics. seed: for random-sign (and reproducibility).
    callback(step, row) gets each history row plus the best-so-far tensors "perturbed" and
    "perturbed_maps"; returning False stops the attack with the best iterate so far.
    """
    spec = get_attack(attack)
    method_spec = get_method(method)
    options = check_options(method_spec, dict(method_options or {}))
    model = as_model(model)
    images = check_images(images)
    n, _, height, width = images.shape
    epsilon = check_number(epsilon, "epsilon", low=0.0, high=1.0)
    steps = check_number(steps, "steps", low=0, integer=True)
    step_size = check_number(step_size, "step_size", low=0.0, low_inclusive=False, high=1.0)
    k = metrics.check_k(k, height * width)
    beta = check_number(beta, "beta", low=0.0, low_inclusive=False)
    gamma = check_number(gamma, "gamma", low=0.0)
    seed = check_number(seed, "seed", low=0, integer=True)
    if callback is not None and not callable(callback):
        raise ConfigError(f"callback must be callable(step, row) or None, got {type(callback).__name__}")
    given = {"region": region, "target_map": target_map}
    for name in spec.requires:
        if given[name] is None:
            raise ConfigError(f"the {attack!r} attack needs {name}= ((H,W) or (N,H,W) = "
                              f"{(n, height, width)})")

    device, dtype = model.device, _float_dtype(model, images.dtype)
    images = images.detach().to(device=device, dtype=dtype)
    shape = torch.Size((n, height, width))
    region_t = None if region is None else metrics.expand_mask(region, shape, "region", ConfigError).to(device)
    mask_t = None if mask is None else metrics.expand_mask(mask, shape, "mask", ConfigError).to(device)
    target_t = None if target_map is None else _target_map(target_map, shape).to(device=device, dtype=dtype)

    with evaluation(model):
        probe = Setting(model, method_spec, options, images, None, epsilon, steps, step_size, beta, seed)
        original_maps, logits = evaluate(probe, images)
        labels = logits.argmax(dim=1)
        setting = Setting(model, method_spec, options, images, labels, epsilon, steps, step_size, beta, seed)
        reference = Reference(original_maps, logits, labels, k, region_t, target_t, gamma)
        tracker = Tracker(images, reference, spec.objective,
                          keep_label=spec.kind == "interpretation", callback=callback)
        _RUNNERS[spec.kind](setting, tracker)
        history = tracker.finish()

    surrogate = (method_spec.surrogate_description(beta) if spec.kind == "interpretation"
                 else _NO_SURROGATE[spec.kind])
    result_metrics = {
        "spearman": tracker.values["spearman"],
        "top_k_intersection": tracker.values["top_k_intersection"],
        "center_shift": tracker.values["center_shift"],
        "pearson": metrics.pearson(original_maps, tracker.maps),
        "ssim": metrics.ssim(original_maps, tracker.maps),
        "dissimilarity": tracker.values["dissimilarity"],
    }
    if mask_t is not None:
        result_metrics["mass_in_mask_before"] = metrics.mass_in_mask(original_maps, mask_t)
        result_metrics["mass_in_mask_after"] = metrics.mass_in_mask(tracker.maps, mask_t)
    config = {
        "method": method, "method_options": jsonable(options), "attack": attack,
        "epsilon": epsilon, "steps": steps, "step_size": step_size, "k": k, "beta": beta,
        "gamma": gamma, "seed": seed, "model": model.name, "surrogate": surrogate,
        "dissimilarity": spec.objective_description, "images": n, "image_size": [height, width],
        "device": str(device), "dtype": str(dtype).replace("torch.", ""),
        "region": jsonable(region_t), "target_map": jsonable(target_t), "mask": jsonable(mask_t),
    }
    return AttackResult(
        perturbed=tracker.perturbed, original_maps=original_maps, perturbed_maps=tracker.maps,
        labels=labels, perturbed_labels=tracker.labels, labels_kept=tracker.labels == labels,
        found=tracker.found,
        metrics=result_metrics, history=history, config=config, surrogate=surrogate,
        steps_run=tracker.steps_run, stopped_early=tracker.stopped_early)


def _float_dtype(model: torch.nn.Module, fallback: torch.dtype) -> torch.dtype:
    """The dtype the model computes in (its first floating parameter or buffer)."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return fallback


def _target_map(target_map, shape: torch.Size) -> torch.Tensor:
    """A user's target map as (N,H,W), non-negative, each summing to 1; else ConfigError."""
    try:
        target = torch.as_tensor(target_map, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"target_map must be a numeric array of shape (H,W) or (N,H,W): {exc}") from None
    if target.dim() == 2:
        target = target.unsqueeze(0)
    if target.dim() != 3 or tuple(target.shape[1:]) != tuple(shape[1:]) or target.shape[0] not in (1, shape[0]):
        raise ConfigError(f"target_map must have shape (H,W) = {tuple(shape[1:])} or (N,H,W) = "
                          f"{tuple(shape)}, got {tuple(target.shape)}")
    total = target.sum(dim=(1, 2), keepdim=True)
    if not bool(torch.isfinite(target).all()) or bool((target < 0).any()) or bool((total <= 0).any()):
        raise ConfigError("target_map must be finite and non-negative with some mass in each map")
    return (target / total).expand(shape)

