"""Sanity checks by parameter randomisation (Adebayo et al., NeurIPS 2018).

If a saliency map barely changes when the model's weights are replaced by random ones,
the map does not explain the model. `cascading_randomization` re-initialises the layers
from the top (the logits layer) down to the first one, one more layer per step, and
compares each step's maps with the original maps; `independent_randomization`
re-initialises one layer at a time, the others keeping their trained weights.

Layers are the modules that hold parameters of their own (Conv2d, Linear, BatchNorm, ...),
named as in `named_modules()` of the wrapped network (the names Grad-CAM's `layer` option
takes), in that registration order, which is taken as forward order (true for
`nn.Sequential` and for the usual models that define layers in the order they use them).

The work is done on one `copy.deepcopy` of the model, so the caller's model is never
touched; the copy costs as much memory again as the model's parameters and buffers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from . import metrics
from ._json import jsonable
from .errors import ConfigError, ModelError, unknown_name
from .explainers import attribute, check_options, get_method, saliency_map
from .models.model import Model, as_model
from .validation import check_images, check_number

__all__ = ["SanityResult", "cascading_randomization", "independent_randomization",
           "parameterised_layers"]

METRICS = ("spearman", "ssim", "top_k_intersection")
TOP_K_SHARE = 0.05          # default k: 5% of the pixels
# Re-initialisation of a layer without reset_parameters(): Adebayo et al.'s truncated normal.
INIT_STD = 0.01


@dataclass
class SanityResult:
    """The maps after each randomisation step and their similarity to the original maps.

    Step i (1-based, as passed to the callback) is `layers[i - 1]`, `maps[i - 1]` and row
    i - 1 of each metric. Cascading: layers[:i] are all random at step i; independent:
    only layers[i - 1] is. Spearman is NaN where a map is constant (e.g. a zero Grad-CAM).
    """
    layers: list[str]                   # randomised layer per step, from the top down
    original_maps: torch.Tensor         # (N,H,W) maps of the unchanged model
    maps: list[torch.Tensor]            # one (N,H,W) tensor per step run
    metrics: dict[str, torch.Tensor]    # name -> (steps run, N): similarity to original_maps
    labels: torch.Tensor                # (N,) the original predictions: the explained classes
    config: dict = field(default_factory=dict)   # JSON-able; reproduces the run
    stopped_early: bool = False         # the callback returned False

    def summary(self) -> dict:
        """JSON-able per-step metrics: {"layers": [...], name: [[per image] per step]}."""
        return {"layers": list(self.layers), "labels": self.labels.tolist(),
                **{name: value.tolist() for name, value in self.metrics.items()},
                "stopped_early": self.stopped_early}


def cascading_randomization(model: nn.Module, images: torch.Tensor, method: str = "gradient",
                            seed: int = 0, method_options: dict | None = None,
                            layers: list[str] | None = None,
                            callback: Callable[[int, dict], object] | None = None,
                            k: int | None = None) -> SanityResult:
    """Randomise the layers from the top down, cumulatively, re-explaining after each.

    layers: dotted names to randomise (default: every layer with parameters); any order,
    they are run from the top of the model down. seed: the random weights (each layer
    gets its own seed, so a layer's random weights do not depend on which others are
    chosen). k: pixels for top_k_intersection (default 5% of the pixels).
    callback(step, row) after each layer, row = {"step", "layer", metric: [per image],
    "maps"}; returning False stops and the result holds the steps run so far.
    """
    return _run(model, images, method, seed, method_options, layers, callback, k, cascading=True)


def independent_randomization(model: nn.Module, images: torch.Tensor, method: str = "gradient",
                              seed: int = 0, method_options: dict | None = None,
                              layers: list[str] | None = None,
                              callback: Callable[[int, dict], object] | None = None,
                              k: int | None = None) -> SanityResult:
    """Randomise one layer at a time (the others trained), top down; as the cascading one.

    A layer gets the same random weights here as in `cascading_randomization` with the
    same seed.
    """
    return _run(model, images, method, seed, method_options, layers, callback, k, cascading=False)


def parameterised_layers(model: nn.Module) -> list[str]:
    """Names of the modules holding parameters of their own, in registration order."""
    return [name for name, module in as_model(model).net.named_modules()
            if any(True for _ in module.parameters(recurse=False))]


def _run(model, images, method, seed, method_options, layers, callback, k, *, cascading):
    spec = get_method(method)
    options = check_options(spec, dict(method_options or {}))
    seed = check_number(seed, "seed", low=0, integer=True)
    if callback is not None and not callable(callback):
        raise ConfigError(f"callback must be callable(step, row) or None, got {type(callback).__name__}")
    model = as_model(model)
    images = check_images(images).detach().to(model.device)
    height, width = images.shape[-2:]
    k = max(1, round(TOP_K_SHARE * height * width)) if k is None else metrics.check_k(k, height * width)
    all_layers = parameterised_layers(model)
    chosen = _choose_layers(all_layers, layers)
    layer_seeds = _layer_seeds(seed, len(all_layers))

    order = chosen[::-1]          # from the top (logits) layer down
    work = _copy(model)
    explanation = attribute(work, images, method, **options)
    labels = explanation.logits.argmax(dim=1)
    original_maps = saliency_map(explanation.attributions)

    steps_maps: list[torch.Tensor] = []
    rows: list[torch.Tensor] = []
    stopped = False
    for step, name in enumerate(order, start=1):
        layer = work.net.get_submodule(name)
        saved = None if cascading else copy.deepcopy(layer.state_dict())
        randomize(layer, layer_seeds[all_layers.index(name)])
        maps = saliency_map(attribute(work, images, method, target=labels, **options).attributions)
        if saved is not None:
            layer.load_state_dict(saved)
        values = _similarity(original_maps, maps, k)
        steps_maps.append(maps)
        rows.append(values)
        if callback is not None:
            row = {"step": step, "layer": name,
                   **{metric: value.tolist() for metric, value in zip(METRICS, values)}, "maps": maps}
            if callback(step, row) is False:
                stopped = True
                break

    n = images.shape[0]
    table = torch.stack(rows)     # (steps run, metric, N); there is always at least one step
    config = {
        "mode": "cascading" if cascading else "independent", "method": method,
        "method_options": jsonable(options), "seed": seed, "layers": order,
        "k": k, "model": model.name, "images": n, "image_size": [height, width],
        "device": str(images.device), "dtype": str(original_maps.dtype).replace("torch.", ""),
        "init": f"each layer's reset_parameters(), else truncated normal (std {INIT_STD}); "
                "running statistics reset",
    }
    return SanityResult(
        layers=order[:len(steps_maps)], original_maps=original_maps, maps=steps_maps,
        metrics={metric: table[:, i] for i, metric in enumerate(METRICS)}, labels=labels,
        config=config, stopped_early=stopped)


def randomize(layer: nn.Module, seed: int) -> None:
    """Re-initialise `layer`'s own parameters (and running statistics) in place, seeded.

    Uses the layer's reset_parameters() where it has one (PyTorch's default init of that
    layer type), else a truncated normal N(0, 0.01^2) cut at two std (Adebayo et al.).
    The global random state is forked, so it is the same afterwards; the same seed gives
    the same weights on the same device.
    """
    cuda = [index for index in {p.device.index for p in layer.parameters(recurse=False)
                                if p.device.type == "cuda"} if index is not None]
    # Seed only the generators of the layer's devices, inside a fork that restores them.
    with torch.random.fork_rng(devices=cuda), torch.no_grad():
        torch.random.default_generator.manual_seed(seed)
        for index in cuda:
            torch.cuda.default_generators[index].manual_seed(seed)
        if callable(getattr(layer, "reset_parameters", None)):
            layer.reset_parameters()
        else:
            for parameter in layer.parameters(recurse=False):
                nn.init.trunc_normal_(parameter, std=INIT_STD, a=-2 * INIT_STD, b=2 * INIT_STD)
        if callable(getattr(layer, "reset_running_stats", None)):
            layer.reset_running_stats()


def _choose_layers(all_layers: list[str], layers) -> list[str]:
    """The layers to randomise in model order; unknown names are a ConfigError."""
    if not all_layers:
        raise ConfigError("the model has no layers with parameters to randomise")
    if layers is None:
        return all_layers
    if isinstance(layers, str) or not all(isinstance(name, str) for name in layers):
        raise ConfigError(f"layers must be a list of layer names, got {layers!r}; "
                          f"choose from: {', '.join(all_layers)}")
    layers = list(layers)
    for name in layers:
        if name not in all_layers:
            raise unknown_name("layer", name, all_layers)
    if not layers or len(set(layers)) != len(layers):
        raise ConfigError(f"layers must name each layer once and at least one, got {layers!r}")
    return [name for name in all_layers if name in layers]


def _layer_seeds(seed: int, count: int) -> list[int]:
    """One seed per layer (by position in the model), drawn from a generator seeded `seed`."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2 ** 62, (count,), generator=generator).tolist()


def _copy(model: Model) -> Model:
    try:
        return copy.deepcopy(model)
    except Exception as exc:  # a module that cannot be copied cannot be randomised safely
        raise ModelError(f"the sanity check works on a copy of the model, and copying "
                         f"{model.name} failed: {exc}") from exc


def _similarity(original: torch.Tensor, maps: torch.Tensor, k: int) -> torch.Tensor:
    """(len(METRICS), N) similarity of `maps` to the original maps."""
    return torch.stack([metrics.spearman(original, maps), metrics.ssim(original, maps),
                        metrics.top_k_intersection(original, maps, k)])

