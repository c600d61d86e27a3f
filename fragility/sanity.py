"""Sanity checks for saliency maps (Adebayo et al., NeurIPS 2018).

Model randomisation: if a saliency map barely changes when the model's weights are
replaced by random ones, the map does not explain the model. `cascading_randomization`
re-initialises the layers from the top (the logits layer) down to the first one, one more
layer per step, and compares each step's maps with the original maps;
`independent_randomization` re-initialises one layer at a time, the others keeping their
trained weights.

Data randomisation: `data_randomization` compares each method's maps on a model and on
the same architecture trained on randomly permuted labels (the bundled one is
`load_model("bundled-shuffled")`). A map that looks the same on both does not depend on
what the labels taught the model. Two networks trained on the true labels do not give
identical maps either, so the shuffled model's similarity is compared with a control's:
the same architecture trained by the shuffled model's recipe on the true labels, with
another seed (`load_model("bundled-control")`). A method passes where the shuffled model's
maps are less like the trained model's than the control's are.

Both compare maps by the measures of the paper: Spearman rank correlation of the
saliency maps (absolute values) and of the signed attributions (no absolute values),
SSIM and HOG similarity, plus the top-k intersection of Ghorbani et al.

Layers are the modules that hold parameters of their own (Conv2d, Linear, BatchNorm, ...),
named as in `named_modules()` of the wrapped network (the names Grad-CAM's `layer` option
takes), in that registration order, which is taken as forward order (true for
`nn.Sequential` and for the usual models that define layers in the order they use them).

The randomisation works on one `copy.deepcopy` of the model, so the caller's model is
never touched; the copy costs as much memory again as the model's parameters and buffers.
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
from .explainers import attribute, check_options, get_method, methods as all_methods, saliency_map
from .explainers._core import pick_target
from .models.model import Model, as_model, evaluation
from .progress import counting
from .validation import check_images, check_number

__all__ = ["DataRandomizationResult", "SanityResult", "cascading_randomization",
           "data_randomization", "independent_randomization", "parameterised_layers", "similarity"]

METRICS = ("spearman", "spearman_signed", "ssim", "hog", "top_k_intersection")
TOP_K_SHARE = 0.05          # default k: 5% of the pixels
# How a layer's parameters are re-initialised; the keys are the values of `init`.
INITS = {
    "default": "each layer's own reset_parameters() (PyTorch's default init of that layer "
               "type); normalisation layers (BatchNorm, GroupNorm, LayerNorm, InstanceNorm): "
               "scale and shift ~ U(-1, 1), the default init of a layer with fan-in 1; other "
               "layers without reset_parameters(): the truncated normal",
    "truncated-normal": "every parameter (weights, biases, normalisation scales and shifts) "
                        "~ N(0, 0.1^2) cut at two standard deviations, as the weights of "
                        "Adebayo et al.'s CNN code",
}
TRUNCATED_STD = 0.1
NORMALISATION = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.GroupNorm,
                 nn.LayerNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)
BUFFERS_NOTE = ("buffers such as BatchNorm's running statistics keep their trained values "
                "(Adebayo et al. re-initialised trainable variables only)")


@dataclass
class SanityResult:
    """The maps after each randomisation step and their similarity to the original maps.

    Step i (1-based, as passed to the callback) is `layers[i - 1]`, `maps[i - 1]` and row
    i - 1 of each metric. Cascading: layers[:i] are all random at step i; independent:
    only layers[i - 1] is. Spearman and HOG are NaN where a map is constant (e.g. a zero
    Grad-CAM).
    """
    layers: list[str]                   # randomised layer per step, from the top down
    original_maps: torch.Tensor         # (N,H,W) maps of the unchanged model
    maps: list[torch.Tensor]            # one (N,H,W) tensor per step run
    metrics: dict[str, torch.Tensor]    # name -> (steps run, N): similarity to original_maps
    labels: torch.Tensor                # (N,) the explained classes (`target`, else predicted)
    predicted: torch.Tensor             # (N,) the unchanged model's predictions
    config: dict = field(default_factory=dict)   # JSON-able; reproduces the run
    stopped_early: bool = False         # the callback returned False

    def __repr__(self) -> str:
        from .display import text
        return text(self)

    def _repr_html_(self) -> str:
        from .display import html
        return html(self)

    def summary(self) -> dict:
        """JSON-able per-step metrics: {"layers": [...], name: [[per image] per step]}."""
        return {"layers": list(self.layers), "labels": self.labels.tolist(),
                "predicted": self.predicted.tolist(),
                **{name: value.tolist() for name, value in self.metrics.items()},
                "stopped_early": self.stopped_early}


@dataclass
class DataRandomizationResult:
    """Each method's maps on the trained, the shuffled-label and the control model, and how
    alike they are.

    `metrics[method][name]` (N,) compares the trained and the shuffled model's maps;
    `control_metrics[method][name]` (N,) the trained and the control model's (empty without
    a control): the level the shuffled model is compared with. A method whose maps depend
    on what the labels taught sits below its control (`below_control`).
    `noise_floor[method][name]` (N,) is the trained model compared with itself: the same
    method again with fresh noise where it draws noise (SmoothGrad), exactly 1 for
    deterministic methods (NaN where a map is constant): the method's own repeatability,
    not a control.
    """
    methods: list[str]                          # in the order run
    original_maps: dict[str, torch.Tensor]      # method -> (N,H,W) on the trained model
    shuffled_maps: dict[str, torch.Tensor]      # method -> (N,H,W) on the shuffled-label model
    metrics: dict[str, dict[str, torch.Tensor]]
    noise_floor: dict[str, dict[str, torch.Tensor]]
    labels: torch.Tensor                        # (N,) the explained classes, on both models
    predicted: torch.Tensor                     # (N,) the trained model's predictions
    shuffled_predicted: torch.Tensor            # (N,) the shuffled-label model's predictions
    config: dict = field(default_factory=dict)
    stopped_early: bool = False
    control_maps: dict[str, torch.Tensor] = field(default_factory=dict)   # method -> (N,H,W)
    control_metrics: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    control_predicted: torch.Tensor | None = None   # (N,) the control model's predictions

    def control_gap(self, metric: str = "spearman") -> dict[str, torch.Tensor]:
        """Per method, (N,) control similarity minus shuffled similarity: > 0 where the
        shuffled model's map is less like the trained model's than the control's is."""
        if not self.control_metrics:
            raise ConfigError("this data randomisation ran without a control model; pass "
                              "control_model= (for the bundled model: load_model(\"bundled-control\"))")
        if metric not in METRICS:
            raise unknown_name("metric", metric, list(METRICS))
        return {method: self.control_metrics[method][metric] - self.metrics[method][metric]
                for method in self.methods}

    def below_control(self, metric: str = "spearman", z: float = 2.0) -> dict[str, bool]:
        """The verdict per method: the shuffled model's maps are less like the trained model's
        than the control's, by more than `z` standard errors of the mean paired difference
        over the images (False with fewer than two images: one image decides nothing)."""
        verdicts = {}
        for method, gap in self.control_gap(metric).items():
            gap = gap[~gap.isnan()]
            if len(gap) < 2:
                verdicts[method] = False
                continue
            error = float(gap.std()) / len(gap) ** 0.5
            verdicts[method] = float(gap.mean()) > z * error
        return verdicts

    def __repr__(self) -> str:
        from .display import text
        return text(self)

    def _repr_html_(self) -> str:
        from .display import html
        return html(self)

    def summary(self) -> dict:
        """JSON-able: {method: {"metrics": {name: [per image]}, "control": {...},
        "noise_floor": {...}}, ...}."""
        return {"methods": {method: {"metrics": _lists(self.metrics[method]),
                                     "control": _lists(self.control_metrics.get(method, {})),
                                     "noise_floor": _lists(self.noise_floor[method])}
                            for method in self.methods},
                "labels": self.labels.tolist(), "predicted": self.predicted.tolist(),
                "shuffled_predicted": self.shuffled_predicted.tolist(),
                "control_predicted": None if self.control_predicted is None else self.control_predicted.tolist(),
                "below_control": self.below_control() if self.control_metrics else None,
                "stopped_early": self.stopped_early}


def cascading_randomization(model: nn.Module, images: torch.Tensor, method: str = "gradient",
                            seed: int = 0, method_options: dict | None = None,
                            layers: list[str] | None = None,
                            callback: Callable[[int, dict], object] | None = None,
                            k: int | None = None, target=None,
                            init: str = "default", progress: bool = False) -> SanityResult:
    """Randomise the layers from the top down, cumulatively, re-explaining after each.

    layers: dotted names to randomise (default: every layer with parameters); any order,
    they are run from the top of the model down. seed: the random weights (each layer
    gets its own seed, so a layer's random weights do not depend on which others are
    chosen). k: pixels for top_k_intersection (default 5% of the pixels). target: the
    class explained, an int or one per image (default: the trained model's prediction);
    every step explains the same class. init: "default" (each layer's PyTorch init,
    BatchNorm scale and shift ~ U(-1, 1)) or "truncated-normal" (Adebayo et al.'s code);
    see INITS. callback(step, row) after each layer, row = {"step", "layer", metric: [per
    image], "maps"}; returning False stops and the result holds the steps run so far.
    progress: a bar of the layers done (tqdm.auto: a widget in Jupyter, text in a terminal).
    """
    return _run(model, images, method, seed, method_options, layers, callback, k, target, init,
                cascading=True, progress=progress)


def independent_randomization(model: nn.Module, images: torch.Tensor, method: str = "gradient",
                              seed: int = 0, method_options: dict | None = None,
                              layers: list[str] | None = None,
                              callback: Callable[[int, dict], object] | None = None,
                              k: int | None = None, target=None,
                              init: str = "default", progress: bool = False) -> SanityResult:
    """Randomise one layer at a time (the others trained), top down; as the cascading one.

    A layer gets the same random weights here as in `cascading_randomization` with the
    same seed and init.
    """
    return _run(model, images, method, seed, method_options, layers, callback, k, target, init,
                cascading=False, progress=progress)


def data_randomization(model: nn.Module, shuffled_model: nn.Module, images: torch.Tensor,
                       methods: list[str] | None = None, target=None,
                       method_options: dict[str, dict] | None = None, k: int | None = None,
                       callback: Callable[[int, dict], object] | None = None,
                       control_model: nn.Module | None = None,
                       progress: bool = False) -> DataRandomizationResult:
    """Adebayo et al.'s data randomisation test: each method on `model` and `shuffled_model`,
    against a control.

    shuffled_model: the same architecture trained on permuted labels (for the bundled
    model, `load_model("bundled-shuffled")`). control_model: the same architecture trained
    by the shuffled model's recipe on the true labels, with another seed (for the bundled
    model, `load_model("bundled-control")`); its maps' similarity to the trained model's is
    what the shuffled model's is compared with (`result.below_control()`). All explain the
    same class: `target` (an int or one per image), else the trained model's prediction.
    methods: names (default: every registered method); method_options: {method: {option:
    value}}; k as in the model randomisation (default 5% of the pixels). callback(index,
    row) after each method, row = {"index", "method", metric: [per image], "control":
    {...}, "noise_floor": {...}, "original_maps", "shuffled_maps", "control_maps"};
    returning False stops after that method. progress: a bar of the methods done (tqdm.auto:
    a widget in Jupyter, text in a terminal).
    """
    names = _choose_methods(methods)
    options = _method_options(names, method_options)
    if callback is not None and not callable(callback):
        raise ConfigError(f"callback must be callable(index, row) or None, got {type(callback).__name__}")
    model, shuffled_model = as_model(model), as_model(shuffled_model)
    control_model = None if control_model is None else as_model(control_model)
    images = check_images(images).detach().to(model.device)
    height, width = images.shape[-2:]
    k = _top_k(k, height, width)
    logits = _logits(model, images)
    predicted = logits.argmax(dim=1)
    shuffled_predicted = _other_predictions(shuffled_model, images, logits, "shuffled-label")
    control_predicted = (None if control_model is None
                         else _other_predictions(control_model, images, logits, "control"))
    labels = pick_target(logits, target)

    result = DataRandomizationResult([], {}, {}, {}, {}, labels, predicted, shuffled_predicted,
                                     control_predicted=control_predicted)
    callback = counting(callback, progress, len(names), "data randomisation", "method")
    for index, name in enumerate(names, start=1):
        trained = attribute(model, images, name, target=labels, **options[name])
        shuffled = _attributions(shuffled_model, images, name, labels, options[name])
        again = _fresh_noise(model, images, name, labels, options[name], trained)
        result.methods.append(name)
        result.original_maps[name] = saliency_map(trained.attributions)
        result.shuffled_maps[name] = saliency_map(shuffled)
        result.metrics[name] = similarity(trained.attributions, shuffled, k)
        result.noise_floor[name] = similarity(trained.attributions, again, k)
        if control_model is not None:
            control = _attributions(control_model, images, name, labels, options[name])
            result.control_maps[name] = saliency_map(control)
            result.control_metrics[name] = similarity(trained.attributions, control, k)
        if callback is not None:
            row = {"index": index, "method": name, **_lists(result.metrics[name]),
                   "control": _lists(result.control_metrics.get(name, {})),
                   "noise_floor": _lists(result.noise_floor[name]),
                   "original_maps": result.original_maps[name],
                   "shuffled_maps": result.shuffled_maps[name],
                   "control_maps": result.control_maps.get(name)}
            if callback(index, row) is False:
                result.stopped_early = True
                break
    result.config = {
        "test": "data randomisation", "model": model.name, "shuffled_model": shuffled_model.name,
        "control_model": None if control_model is None else control_model.name,
        "methods": names, "method_options": jsonable(options),
        "target": None if target is None else labels.tolist(), "k": k, "images": len(images),
        "image_size": [height, width], "device": str(images.device),
        "noise_floor": "the trained model against itself, with independent noise for methods "
                       "that draw noise (the attacks' scoring seeds); identical maps for the others",
        "control": "the trained model against the control model (the shuffled model's recipe on "
                   "the true labels, another seed): the level the shuffled model is compared with",
    }
    return result


def _logits(model: Model, images: torch.Tensor) -> torch.Tensor:
    with evaluation(model), torch.no_grad():
        return model(images.to(model.device))


def _other_predictions(other: Model, images: torch.Tensor, logits: torch.Tensor, role: str) -> torch.Tensor:
    """The predictions of the shuffled or control model, on the trained model's device."""
    other_logits = _logits(other, images)
    if other_logits.shape != logits.shape:
        raise ModelError(f"the {role} model must have the model's {logits.shape[1]} "
                         f"classes, it has {other_logits.shape[1]}")
    return other_logits.argmax(dim=1).to(logits.device)


def _attributions(other: Model, images: torch.Tensor, method: str, labels: torch.Tensor,
                  options: dict) -> torch.Tensor:
    """`method`'s attributions on another model, back on the images' device."""
    return attribute(other, images.to(other.device), method, target=labels.to(other.device),
                     **options).attributions.to(images.device)


def similarity(original: torch.Tensor, other: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
    """The sanity-check measures between two sets of attributions (N,C,H,W): name -> (N,).

    spearman, ssim, hog and top_k_intersection compare the saliency maps (|attribution|
    summed over channels); spearman_signed compares the signed sums over channels.
    """
    a, b = saliency_map(original), saliency_map(other)
    return {"spearman": metrics.spearman(a, b),
            "spearman_signed": metrics.spearman_signed(original, other),
            "ssim": metrics.ssim(a, b),
            "hog": metrics.hog_similarity(a, b),
            "top_k_intersection": metrics.top_k_intersection(a, b, k)}


def parameterised_layers(model: nn.Module) -> list[str]:
    """Names of the modules holding parameters of their own, in registration order."""
    return [name for name, module in as_model(model).net.named_modules()
            if any(True for _ in module.parameters(recurse=False))]


def _run(model, images, method, seed, method_options, layers, callback, k, target, init, *,
         cascading, progress=False):
    spec = get_method(method)
    options = check_options(spec, dict(method_options or {}))
    seed = check_number(seed, "seed", low=0, integer=True)
    init = _check_init(init)
    if callback is not None and not callable(callback):
        raise ConfigError(f"callback must be callable(step, row) or None, got {type(callback).__name__}")
    model = as_model(model)
    images = check_images(images).detach().to(model.device)
    height, width = images.shape[-2:]
    k = _top_k(k, height, width)
    all_layers = parameterised_layers(model)
    chosen = _choose_layers(all_layers, layers)
    layer_seeds = _layer_seeds(seed, len(all_layers))

    order = chosen[::-1]          # from the top (logits) layer down
    callback = counting(callback, progress, len(order), "randomising layers", "layer")
    work = _copy(model)
    explanation = attribute(work, images, method, target=target, **options)
    predicted = explanation.logits.argmax(dim=1)
    labels = pick_target(explanation.logits, target)
    original_maps = saliency_map(explanation.attributions)

    steps_maps: list[torch.Tensor] = []
    rows: list[dict[str, torch.Tensor]] = []
    stopped = False
    for step, name in enumerate(order, start=1):
        layer = work.net.get_submodule(name)
        saved = None if cascading else copy.deepcopy(layer.state_dict())
        randomize(layer, layer_seeds[all_layers.index(name)], init)
        attributions = attribute(work, images, method, target=labels, **options).attributions
        if saved is not None:
            layer.load_state_dict(saved)
        values = similarity(explanation.attributions, attributions, k)
        maps = saliency_map(attributions)
        steps_maps.append(maps)
        rows.append(values)
        if callback is not None:
            row = {"step": step, "layer": name, **_lists(values), "maps": maps}
            if callback(step, row) is False:
                stopped = True
                break

    config = {
        "mode": "cascading" if cascading else "independent", "method": method,
        "method_options": jsonable(options), "seed": seed, "layers": order,
        "k": k, "target": None if target is None else labels.tolist(), "model": model.name,
        "images": images.shape[0], "image_size": [height, width],
        "device": str(images.device), "dtype": str(original_maps.dtype).replace("torch.", ""),
        "init": init, "init_rule": f"{INITS[init]}; {BUFFERS_NOTE}",
    }
    return SanityResult(
        layers=order[:len(steps_maps)], original_maps=original_maps, maps=steps_maps,
        metrics={metric: torch.stack([row[metric] for row in rows]) for metric in METRICS},
        labels=labels, predicted=predicted, config=config, stopped_early=stopped)


def randomize(layer: nn.Module, seed: int, init: str = "default") -> None:
    """Re-initialise `layer`'s own parameters in place, seeded; see INITS for `init`.

    Buffers (BatchNorm's running statistics) are left as they are. The global random
    state is forked, so it is the same afterwards; the same seed gives the same weights
    on the same device.
    """
    init = _check_init(init)
    parameters = list(layer.parameters(recurse=False))
    cuda = [index for index in {p.device.index for p in parameters if p.device.type == "cuda"}
            if index is not None]
    # Seed only the generators of the layer's devices, inside a fork that restores them.
    with torch.random.fork_rng(devices=cuda), torch.no_grad():
        torch.random.default_generator.manual_seed(seed)
        for index in cuda:
            torch.cuda.default_generators[index].manual_seed(seed)
        if init == "default" and isinstance(layer, NORMALISATION):
            for parameter in parameters:          # a per-channel affine map: fan-in 1
                nn.init.uniform_(parameter, -1.0, 1.0)
        elif init == "default" and callable(getattr(layer, "reset_parameters", None)):
            layer.reset_parameters()
        else:
            for parameter in parameters:
                nn.init.trunc_normal_(parameter, std=TRUNCATED_STD, a=-2 * TRUNCATED_STD,
                                      b=2 * TRUNCATED_STD)


def _check_init(init: object) -> str:
    if init not in INITS:
        raise unknown_name("init", init, list(INITS))
    return init


def _top_k(k, height: int, width: int) -> int:
    return max(1, round(TOP_K_SHARE * height * width)) if k is None else metrics.check_k(k, height * width)


def _choose_methods(names) -> list[str]:
    if names is None:
        return all_methods()
    if isinstance(names, str) or not all(isinstance(name, str) for name in names):
        raise ConfigError(f"methods must be a list of method names, got {names!r}; choose "
                          f"from: {', '.join(all_methods())}")
    names = list(names)
    for name in names:
        get_method(name)                  # unknown names: a ConfigError listing the valid ones
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"methods must name each method once and at least one, got {names!r}")
    return names


def _method_options(names: list[str], given) -> dict[str, dict]:
    given = dict(given or {})
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ConfigError(f"method_options names methods that are not run: {', '.join(unknown)}; "
                          f"methods run: {', '.join(names)}")
    return {name: check_options(get_method(name), dict(given.get(name) or {})) for name in names}


def _fresh_noise(model: Model, images: torch.Tensor, method: str, labels: torch.Tensor,
                 options: dict, trained) -> torch.Tensor:
    """The method's attributions on `model` again with independent noise, if it draws any
    (the seeds the attacks score with, so that the noise floor is the one they report)."""
    spec = get_method(method)
    if not spec.stochastic:
        return trained.attributions
    return attribute(model, images, method, target=labels, **spec.scoring_options(options)).attributions


def _lists(values: dict[str, torch.Tensor]) -> dict[str, list]:
    return {name: value.tolist() for name, value in values.items()}


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
