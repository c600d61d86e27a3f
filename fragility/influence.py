"""Influence functions on the last linear layer (Koh & Liang, 2017), and the attack on them
(Ghorbani, Abid & Zou, 2019).

    score(z_test, z) = grad_theta L(z_test)^T (H + damping I)^-1 grad_theta L(z)

is minus Koh & Liang's I_up,loss: a positive score means that up-weighting the training
example z lowers the loss at z_test (z is helpful), a negative one that it raises it.
theta is the weight and bias of the final nn.Linear (the layer whose output is the model's
output), as in the paper and Koh & Liang's Inception experiment: the network below it is a
fixed feature map phi. L(z_test) is the cross-entropy at the model's predicted label; H is
the Hessian of the mean training cross-entropy with respect to theta, averaged over a sample
of training images (`hessian_images`; by default the scored ones).

What is approximated, and how:
- Only theta moves: the influence of a training image on the rest of the network is not
  modelled (the features phi stay fixed).
- H is the mean over the Hessian sample, not over the whole training set (the CLI and the
  dashboard use a few thousand training images, separate from the scored ones).
- H is damped: (H + lambda I)^-1, lambda = `damping` times the mean eigenvalue of H
  (trace(H) / P, so the choice is scale-free; default 0.1). On a confident classifier
  most eigenvalues of H are far below any such lambda (on the bundled model 1,200 of its
  1,290 with 2,048 images), so in those directions lambda, not the data, sets the
  scores. `damping_sensitivity` says how much: the rank correlation of the scores at
  lambda/10 and 10 lambda with those at lambda.
- The influence function itself is first order (an infinitesimal up-weighting) and assumes
  theta minimises the damped training loss, which a network trained by SGD does not exactly.
Given those, the closed forms below are computed exactly (one eigendecomposition, float64).

Softmax cross-entropy on a linear layer over fixed features has closed forms. With
phi~ = (phi, 1) (no 1 when the layer has no bias) and p = softmax(W phi + b):

    grad_theta L(z) = (p - e_y) phi~^T                           (C x D, flattened)
    H = mean_i (diag(p_i) - p_i p_i^T) kron phi~_i phi~_i^T       (CD x CD)

H is positive semi-definite and singular (adding one vector to every class's row of (W, b)
leaves the softmax unchanged), so damping > 0 is required; H + lambda I is the Hessian of the
sampled training loss plus lambda/2 ||theta||^2. H is decomposed once (eigh, float64; the
rounding errors below 0 set to 0) and (H + lambda I)^-1 grad L(z) solved for every scored
training example at once; only the test point's gradient changes afterwards, which is what
the attack moves. The same decomposition gives the scores at lambda/10 and 10 lambda.

The attack lowers the top-k influence: the total score of the k training examples that were
most helpful for the original image, with each score vector scaled to unit length (as
Ghorbani et al.'s code normalises influences). Without the scaling the objective has a
shortcut: every score shrinks with the test loss's gradient, so making the prediction more
confident lowers the total without reordering anything, and random noise, which lowers the
confidence, could never count as a baseline. Lowering the influence of the examples that
support the predicted class also pushes towards another class: on the bundled model the
plain steps change the label within about 2/255. So the steps follow
-top_k_influence + gamma * log p(predicted class), which holds the label (Dombrowski et al.'s
target-map attack keeps the output with a gamma term in the same way); iterates are chosen
by the top-k influence alone, for the attack and for random sign.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .attacks.setting import Setting, signed_step
from .errors import ConfigError, InputError, ModelError
from .explainers._core import gradient
from .metrics import average_ranks, check_k, correlation, top_k_mask
from .models.model import Model, as_model, evaluation
from .smooth import DEFAULT_BETA, describe, softplus_relu
from .validation import check_images, check_number

# lambda = DEFAULT_DAMPING x the mean eigenvalue of H. On the bundled model (H from 2,048
# training images) that is 1.1e-4, with 1,200 of the 1,290 eigenvalues below it; the rank
# correlation of the scores at lambda/10 and 10 lambda with lambda's is about 0.62 either
# way (benchmarks/RESULTS.md, "Influence damping").
DEFAULT_DAMPING = 0.1
SENSITIVITY_FACTOR = 10.0   # damping_sensitivity compares lambda / 10 and 10 lambda with lambda
DEFAULT_GAMMA = 1.0
# theta larger than this makes the exact (theta x theta) Hessian too big for a laptop
# (5,000^2 float64 values are 200 MB); the bundled model's last layer has 10 x 129 = 1,290.
MAX_THETA = 5_000
BATCH_SIZE = 256     # images per forward pass when scoring many images
DISSIMILARITY = ("minus the total influence, at the perturbed image, of the k training examples "
                 "that were most helpful for the original image (score vectors scaled to unit length)")


# ---------------------------------------------------------------- theta: the last linear layer

@dataclass(frozen=True)
class LastLayer:
    """The final nn.Linear of a model, whose weight and bias are theta."""
    name: str
    module: nn.Linear

    @property
    def width(self) -> int:
        """D: the features, plus one for the bias."""
        return self.module.in_features + (self.module.bias is not None)

    @property
    def size(self) -> int:
        """The number of parameters in theta."""
        return self.module.out_features * self.width


def last_linear_layer(model: nn.Module, images: torch.Tensor) -> LastLayer:
    """The nn.Linear whose output is `model`'s output on `images`, else ModelError."""
    model = as_model(model)
    linears = [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ModelError(f"{model.name} has no nn.Linear layer; influence scores take theta = the weight "
                         "and bias of the final linear layer, so the model must end in one (models that "
                         "end in a convolution, such as squeezenet1_1, do not)")
    calls: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def record(name):
        def hook(module, inputs, output):
            calls[name] = (inputs[0], output)
        return hook
    handles = [module.register_forward_hook(record(name)) for name, module in linears]
    try:
        with evaluation(model), torch.no_grad():
            logits = model(images.to(model.device))
    finally:
        for handle in handles:
            handle.remove()
    for name, module in reversed(linears):
        if name not in calls:
            continue
        features, output = calls[name]
        if output is logits or (output.shape == logits.shape and torch.equal(output, logits)):
            if features.dim() != 2:
                raise ModelError(f"the final linear layer {name!r} of {model.name} gets input of shape "
                                 f"{tuple(features.shape)}; influence scores need one feature vector "
                                 "per image, (N, features)")
            layer = LastLayer(name, module)
            if layer.size > MAX_THETA:
                raise ModelError(f"the final linear layer {name!r} of {model.name} has {layer.size:,} "
                                 f"parameters; the exact Hessian is supported up to {MAX_THETA:,} "
                                 "(a classifier with fewer classes or features)")
            return layer
    raise ModelError(f"the output of {model.name} is not the output of any of its nn.Linear layers "
                     f"(the last is {linears[-1][0]!r}); influence scores need logits = final linear "
                     "layer(features), with nothing after it")


@contextlib.contextmanager
def _capturing_input(layer: LastLayer) -> Iterator[list[torch.Tensor]]:
    """Collects the features the layer receives while the block runs; no hook after it."""
    captured: list[torch.Tensor] = []
    handle = layer.module.register_forward_pre_hook(lambda module, inputs: captured.append(inputs[0]))
    try:
        yield captured
    finally:
        handle.remove()


def _forward(model: Model, layer: LastLayer, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (N,F), logits (N,C)) of one pass; differentiable when autograd is on."""
    with _capturing_input(layer) as captured:
        logits = model(images)
    return captured[-1], logits


# ---------------------------------------------------------------- closed forms

def _augmented(features: torch.Tensor, layer: LastLayer) -> torch.Tensor:
    """phi~ in float64: the features, and a 1 for the bias when the layer has one."""
    features = features.double()
    if layer.module.bias is None:
        return features
    return torch.cat([features, torch.ones_like(features[:, :1])], dim=1)


def loss_gradients(logits: torch.Tensor, labels: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """grad_theta of the cross-entropy at `labels`: (N, C*D), (p - e_y) outer phi~ per example."""
    probabilities = torch.softmax(logits.double(), dim=1)
    chosen = F.one_hot(labels, logits.shape[1]).bool()
    # p_y - 1 as minus the other classes' mass: no cancellation when p_y rounds to 1.
    rest = probabilities.masked_fill(chosen, 0.0)
    residual = torch.where(chosen, -rest.sum(dim=1, keepdim=True), rest)
    return (residual.unsqueeze(2) * features.unsqueeze(1)).flatten(1)


def hessian(logits: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """The Hessian w.r.t. theta of the mean cross-entropy: (C*D, C*D), indexed (class, feature).

    mean_i (diag(p_i) - p_i p_i^T) kron phi~_i phi~_i^T, as a block diagonal of
    mean_i p_ic phi~_i phi~_i^T minus U^T U / n with U_i = p_i kron phi~_i. (No label enters.)
    """
    n, width = features.shape
    probabilities = torch.softmax(logits.double(), dim=1)
    classes = probabilities.shape[1]
    outer = (probabilities.unsqueeze(2) * features.unsqueeze(1)).flatten(1)     # (n, C*D)
    result = -(outer.T @ outer) / n
    blocks = torch.einsum("nc,nj,nk->cjk", probabilities, features, features) / n
    index = torch.arange(classes, device=features.device)
    result.view(classes, width, classes, width)[index, :, index, :] += blocks
    return result


def _features_and_logits(model: Model, layer: LastLayer, images: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """phi~ (float64) and logits of many images, in batches, without autograd."""
    features, logits = [], []
    with torch.no_grad():
        for start in range(0, images.shape[0], BATCH_SIZE):
            batch_features, batch_logits = _forward(model, layer, images[start:start + BATCH_SIZE].to(model.device))
            features.append(_augmented(batch_features, layer))
            logits.append(batch_logits)
    return torch.cat(features), torch.cat(logits)


class TrainingInfluence:
    """(H + lambda I)^-1 grad_theta L(z) for every scored training example z, computed once.

    H is averaged over `hessian_images` (None: the scored images); lambda = damping x the
    mean eigenvalue of H. scores() then needs only the test point's gradient: one
    (N,P) x (P,n) product.
    """

    def __init__(self, model: Model, layer: LastLayer, train_images: torch.Tensor,
                 train_labels: torch.Tensor, damping: float, hessian_images: torch.Tensor | None = None):
        self.layer = layer
        features, logits = _features_and_logits(model, layer, train_images)
        if hessian_images is None:
            sample_features, sample_logits = features, logits
        else:
            sample_features, sample_logits = _features_and_logits(model, layer, hessian_images)
        curvature = hessian(sample_logits, sample_features)
        if not bool(torch.isfinite(curvature).all()):
            raise ModelError("the Hessian of the last layer is not finite (the features overflow)")
        eigenvalues, self.eigenvectors = torch.linalg.eigh(curvature)
        self.eigenvalues = eigenvalues.clamp_min(0.0)
        self.mean_eigenvalue = float(self.eigenvalues.mean())
        if not self.mean_eigenvalue > 0:
            raise ModelError("the Hessian of the last layer is zero (constant features or "
                             "one-hot predictions everywhere), so damping relative to it is undefined")
        self.damping = damping * self.mean_eigenvalue       # lambda, in H's units
        self.hessian_size = int(sample_features.shape[0])
        train_gradients = loss_gradients(logits, train_labels.to(logits.device), features)
        self._train_projected = train_gradients @ self.eigenvectors           # (n, P)
        self.directions = self.eigenvectors @ (self._train_projected / (self.eigenvalues + self.damping)).T

    def scores(self, logits: torch.Tensor, labels: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """(N, n) float64 scores of test points given their logits, explained labels and features."""
        return loss_gradients(logits, labels, _augmented(features, self.layer)) @ self.directions

    def scores_at(self, logits: torch.Tensor, labels: torch.Tensor, features: torch.Tensor,
                  damping: float) -> torch.Tensor:
        """The scores with another lambda (absolute), from the same decomposition."""
        projected = loss_gradients(logits, labels, _augmented(features, self.layer)) @ self.eigenvectors
        return (projected / (self.eigenvalues + damping)) @ self._train_projected.T

    def sensitivity(self, logits: torch.Tensor, labels: torch.Tensor, features: torch.Tensor
                    ) -> dict[str, torch.Tensor]:
        """Spearman of the scores at lambda / 10 and 10 lambda with those at lambda: (N,) each."""
        ranks = average_ranks(self.scores_at(logits, labels, features, self.damping))
        return {name: correlation(ranks, average_ranks(self.scores_at(logits, labels, features,
                                                                      self.damping * factor)))
                for name, factor in (("tenth", 1 / SENSITIVITY_FACTOR), ("tenfold", SENSITIVITY_FACTOR))}

    def describe(self) -> dict:
        """JSON-able facts about H and lambda, for a run's configuration."""
        return {"hessian_images": self.hessian_size, "damping_absolute": self.damping,
                "mean_eigenvalue": self.mean_eigenvalue, "largest_eigenvalue": float(self.eigenvalues.max()),
                "eigenvalues_below_damping": int((self.eigenvalues < self.damping).sum()),
                "theta_size": int(self.eigenvalues.numel())}


def _training_data(model: Model, train_images, train_labels, classes: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    train_images = check_images(train_images, name="train_images")
    if not isinstance(train_labels, torch.Tensor):
        try:
            train_labels = torch.as_tensor(train_labels)
        except (TypeError, ValueError, RuntimeError) as error:
            raise InputError(f"train_labels must be integer class indices, one per training image: {error}") from None
    if train_labels.is_floating_point() or train_labels.is_complex() or train_labels.dtype == torch.bool:
        raise InputError(f"train_labels must be integer class indices, got dtype {train_labels.dtype}")
    if tuple(train_labels.shape) != (train_images.shape[0],):
        raise InputError(f"train_labels must have shape ({train_images.shape[0]},), one label per training "
                         f"image, got {tuple(train_labels.shape)}")
    if bool((train_labels < 0).any()) or bool((train_labels >= classes).any()):
        raise InputError(f"train_labels must lie in [0, {classes - 1}] (the model has {classes} classes), "
                         f"got values from {int(train_labels.min())} to {int(train_labels.max())}")
    dtype = _float_dtype(model, train_images.dtype)
    return train_images.detach().to(dtype=dtype), train_labels.long()


def _float_dtype(model: nn.Module, fallback: torch.dtype) -> torch.dtype:
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return fallback


def _prepare(model, test_images, train_images, train_labels, damping, hessian_images,
             name="test_images"):
    """Validated inputs and theta's layer; test images on the model's device and dtype."""
    model = as_model(model)
    test_images = check_images(test_images, name=name)
    damping = check_number(damping, "damping", low=0.0, low_inclusive=False)
    dtype = _float_dtype(model, test_images.dtype)
    test_images = test_images.detach().to(device=model.device, dtype=dtype)
    layer = last_linear_layer(model, test_images[:1])
    train_images, train_labels = _training_data(model, train_images, train_labels,
                                                layer.module.out_features)
    if hessian_images is not None:
        hessian_images = check_images(hessian_images, name="hessian_images").detach().to(dtype=dtype)
    return model, layer, test_images, train_images, train_labels, damping, hessian_images


def _influence(model, layer, test_images, train_images, train_labels, damping, hessian_images
               ) -> tuple[TrainingInfluence, list[tuple[torch.Tensor, torch.Tensor]]]:
    """The solved training side and (features, logits) of the test images in batches."""
    influence = TrainingInfluence(model, layer, train_images, train_labels, damping, hessian_images)
    with torch.no_grad():
        batches = [_forward(model, layer, test_images[start:start + BATCH_SIZE])
                   for start in range(0, test_images.shape[0], BATCH_SIZE)]
    return influence, batches


def influence_scores(model: nn.Module, test_images: torch.Tensor, train_images: torch.Tensor,
                     train_labels, damping: float = DEFAULT_DAMPING,
                     hessian_images: torch.Tensor | None = None) -> torch.Tensor:
    """(N_test, N_train) float64 influence scores, on the model's device.

    score = grad_theta L(z_test)^T (H + lambda I)^-1 grad_theta L(z) with theta the final
    linear layer's weight and bias, L(z_test) the cross-entropy at the predicted label, H
    the Hessian of the mean cross-entropy over `hessian_images` (None: over `train_images`,
    right when they are the whole training set; when they are a few candidates, pass a
    large sample of the training set) and lambda = damping x the mean eigenvalue of H.
    Positive: up-weighting the training example lowers the test loss (helpful); negative:
    harmful. See the module docstring for what this approximates.
    """
    model, layer, test_images, train_images, train_labels, damping, hessian_images = _prepare(
        model, test_images, train_images, train_labels, damping, hessian_images)
    with evaluation(model):
        influence, batches = _influence(model, layer, test_images, train_images, train_labels,
                                        damping, hessian_images)
        return torch.cat([influence.scores(logits, logits.argmax(dim=1), features)
                          for features, logits in batches])


def damping_sensitivity(model: nn.Module, test_images: torch.Tensor, train_images: torch.Tensor,
                        train_labels, damping: float = DEFAULT_DAMPING,
                        hessian_images: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """How much lambda sets the ranking: {"tenth": (N,), "tenfold": (N,)}, the Spearman rank
    correlation of each test image's scores at lambda / 10 and at 10 lambda with its scores
    at lambda (arguments as `influence_scores`). 1: the ranking does not depend on lambda."""
    model, layer, test_images, train_images, train_labels, damping, hessian_images = _prepare(
        model, test_images, train_images, train_labels, damping, hessian_images)
    with evaluation(model):
        influence, batches = _influence(model, layer, test_images, train_images, train_labels,
                                        damping, hessian_images)
        parts = [influence.sensitivity(logits, logits.argmax(dim=1), features) for features, logits in batches]
    return {name: torch.cat([part[name] for part in parts]) for name in parts[0]}


# ---------------------------------------------------------------- the attack

@dataclass
class InfluenceResult:
    """An influence attack's perturbed images, their scores and how they compare.

    Every tensor has one entry per test image. `baseline` is the random-sign result of the
    same epsilon (None when not asked for, and for the baseline itself).
    """
    perturbed: torch.Tensor           # (N,3,H,W) in [0,1], within epsilon of the images
    original_scores: torch.Tensor     # (N, N_train) float64 influence scores of the images
    perturbed_scores: torch.Tensor    # (N, N_train) at `perturbed` (same explained label)
    labels: torch.Tensor              # (N,) original predictions (the labels L is taken at)
    perturbed_labels: torch.Tensor    # (N,) predictions for `perturbed`
    labels_kept: torch.Tensor         # (N,) bool
    found: torch.Tensor               # (N,) bool: some iterate kept the label and lowered the
                                      # top-k influence (False: `perturbed` is the original)
    metrics: dict[str, torch.Tensor]  # spearman, top_k_intersection, top_k_influence_before/after
    baseline: InfluenceResult | None = None
    # {"tenth": (N,), "tenfold": (N,)}: Spearman of the original scores at lambda / 10 and
    # 10 lambda with those at lambda (`damping_sensitivity`); how much the damping, not the
    # data, sets the ranking that the attack moves.
    damping_sensitivity: dict[str, torch.Tensor] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)   # one JSON-able row per step
    config: dict = field(default_factory=dict)
    surrogate: str = ""
    steps_run: int = 0
    stopped_early: bool = False

    def __repr__(self) -> str:
        from .display import text
        return text(self)

    def _repr_html_(self) -> str:
        from .display import html
        return html(self)

    def summary(self) -> dict:
        """The metrics and labels as JSON-able per-image lists, with the baseline's metrics."""
        values = {name: value.tolist() for name, value in self.metrics.items()}
        record = {**values, "labels": self.labels.tolist(), "perturbed_labels": self.perturbed_labels.tolist(),
                  "labels_kept": self.labels_kept.tolist(), "found": self.found.tolist(),
                  "steps_run": self.steps_run, "stopped_early": self.stopped_early,
                  "damping_sensitivity": {name: value.tolist() for name, value in self.damping_sensitivity.items()}}
        if self.baseline is not None:
            record["random_sign"] = self.baseline.summary()
        return record


def most_helpful(scores: torch.Tensor, k: int) -> torch.Tensor:
    """(N,k) indices of the k largest scores of each row, most helpful first."""
    return scores.topk(k, dim=1).indices


def most_harmful(scores: torch.Tensor, k: int) -> torch.Tensor:
    """(N,k) indices of the k smallest (most negative) scores of each row, most harmful first."""
    return scores.topk(k, dim=1, largest=False).indices


def top_k_influence(scores: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """(N,) total influence of the `chosen` (N,k) training examples, each score vector scaled
    to unit length first (as Ghorbani et al.'s code normalises influences)."""
    return scores.gather(1, chosen).sum(dim=1) / torch.linalg.vector_norm(scores, dim=1).clamp_min(1e-300)


@dataclass(frozen=True)
class _Box:
    """What the attacks' eps-ball and signed step read: the originals, epsilon, step size."""
    images: torch.Tensor
    epsilon: float
    step_size: float
    ball = Setting.ball      # the same [0,1]-clipped L-inf ball as every attack


TRACKED = ("top_k_influence", "spearman", "top_k_intersection", "labels_kept")


class _Tracker:
    """Per image, the label-keeping iterate with the lowest total top-k influence so far,
    and one history row per step (Algorithm 1's tracking, over score vectors)."""

    def __init__(self, images, original_scores, labels, k, run: str, callback):
        self.original_scores = original_scores
        self.labels = labels
        self.k = k
        self.run = run
        self.callback = callback
        self.chosen = most_helpful(original_scores, k)
        self._original_ranks = average_ranks(original_scores)
        self._original_top_k = top_k_mask(original_scores, k)
        self.perturbed = images
        self.scores = original_scores
        self.perturbed_labels = labels
        self.values = self.measure(original_scores, labels)
        self.found = torch.zeros_like(labels, dtype=torch.bool)
        self.history: list[dict] = []
        self._pending: list[torch.Tensor] = []
        self.steps_run = 0
        self.stopped_early = False

    def measure(self, scores: torch.Tensor, predicted: torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            "top_k_influence": top_k_influence(scores, self.chosen),
            "spearman": correlation(self._original_ranks, average_ranks(scores)),
            "top_k_intersection": (top_k_mask(scores, self.k) & self._original_top_k).sum(dim=1).double() / self.k,
            "labels_kept": predicted == self.labels,
        }

    def offer(self, step: int, x: torch.Tensor, scores: torch.Tensor, logits: torch.Tensor) -> bool:
        predicted = logits.argmax(dim=1)
        current = self.measure(scores, predicted)
        better = current["labels_kept"] & (current["top_k_influence"] < self.values["top_k_influence"])
        self.found |= better
        self.perturbed = torch.where(better.reshape(-1, 1, 1, 1), x.detach(), self.perturbed)
        self.scores = torch.where(better.reshape(-1, 1), scores, self.scores)
        self.perturbed_labels = torch.where(better, predicted, self.perturbed_labels)
        self.values = {name: torch.where(better, current[name], self.values[name]) for name in TRACKED}
        self.steps_run = step
        row = torch.stack([self.values[name].double() for name in TRACKED]
                          + [current[name].double() for name in TRACKED])
        if self.callback is None:
            self._pending.append(row)
            return True
        self.history.append(self._row(step, row.tolist()))
        live = {**self.history[-1], "perturbed": self.perturbed, "perturbed_scores": self.scores,
                "original_scores": self.original_scores}
        if self.callback(step, live) is False:
            self.stopped_early = True
            return False
        return True

    def finish(self) -> list[dict]:
        if self._pending:
            first = len(self.history) + 1
            for offset, values in enumerate(torch.stack(self._pending).tolist()):
                self.history.append(self._row(first + offset, values))
            self._pending = []
        return self.history

    def _row(self, step: int, values: list[list[float]]) -> dict:
        row = {"step": step, "run": self.run}
        for name, per_image in zip(list(TRACKED) + [f"current_{name}" for name in TRACKED], values):
            row[name] = [bool(v) for v in per_image] if name.endswith("labels_kept") else per_image
        return row


def influence_attack(model: nn.Module, images: torch.Tensor, train_images: torch.Tensor, train_labels,
                     epsilon: float = 8 / 255, steps: int = 100, step_size: float = 1 / 255, k: int = 5,
                     seed: int = 0, callback: Callable[[int, dict], object] | None = None,
                     damping: float = DEFAULT_DAMPING, beta: float = DEFAULT_BETA,
                     gamma: float = DEFAULT_GAMMA, baseline: bool = True,
                     hessian_images: torch.Tensor | None = None) -> InfluenceResult:
    """Attack the influence-function explanation of `model` on `images` (Ghorbani et al., 2019).

    Algorithm 1 with the dissimilarity "total influence, at the perturbed image, of the k
    training examples that were most helpful for the original" (`top_k_influence`, score
    vectors scaled to unit length), lowered: signed steps of `step_size` along the gradient
    of -top_k_influence + gamma * log p(original label), taken with ReLU -> softplus(beta),
    each projected onto the L-inf ball of radius `epsilon` and [0,1] (steps=1 with
    step_size=epsilon is the paper's attack: one signed step of the full budget). Every iterate is scored
    on the real network and, per image, the label-keeping iterate with the lowest top-k
    influence is kept (`found` False: none kept the label and lowered it; `perturbed` is
    then the original). Scores are `influence_scores` at the original predicted label
    (damping and hessian_images as there); (H + lambda I)^-1 grad L(z) is computed once for
    the training set. `result.damping_sensitivity` says how much lambda sets the original
    ranking.

    baseline: also run random sign of the same epsilon as `result.baseline` (a fresh sign
    draw per step, as many draws as the attack ran steps, the best label-keeping draw by the
    same criterion). callback(step, row) gets each history row (row["run"] is "attack" or
    "random-sign") with the best-so-far "perturbed" and "perturbed_scores" (and
    "original_scores"); returning False stops the attack, and the baseline then runs its
    draws without the callback.
    """
    model, layer, images, train_images, train_labels, damping, hessian_images = _prepare(
        model, images, train_images, train_labels, damping, hessian_images, name="images")
    epsilon = check_number(epsilon, "epsilon", low=0.0, high=1.0)
    steps = check_number(steps, "steps", low=0, integer=True)
    step_size = check_number(step_size, "step_size", low=0.0, low_inclusive=False, high=1.0)
    k = check_k(k, train_images.shape[0])
    seed = check_number(seed, "seed", low=0, integer=True)
    beta = check_number(beta, "beta", low=0.0, low_inclusive=False)
    gamma = check_number(gamma, "gamma", low=0.0)
    if callback is not None and not callable(callback):
        raise ConfigError(f"callback must be callable(step, row) or None, got {type(callback).__name__}")
    box = _Box(images, epsilon, step_size)

    with evaluation(model):
        influence = TrainingInfluence(model, layer, train_images, train_labels, damping, hessian_images)
        with torch.no_grad():
            features, logits = _forward(model, layer, images)
        labels = logits.argmax(dim=1)
        original_scores = influence.scores(logits, labels, features)
        sensitivity = influence.sensitivity(logits, labels, features)
        attack = _Tracker(images, original_scores, labels, k, "attack", callback)
        _descend(model, layer, influence, box, steps, beta, gamma, attack)
        random = None
        if baseline:
            random = _Tracker(images, original_scores, labels, k, "random-sign",
                              None if attack.stopped_early else callback)
            _random_signs(model, layer, influence, box, attack.steps_run, seed, random)

    config = {
        "attack": "influence", "epsilon": epsilon, "steps": steps, "step_size": step_size, "k": k,
        "beta": beta, "gamma": gamma, "damping": damping, "seed": seed, "model": model.name, "layer": layer.name,
        "train_size": int(train_images.shape[0]), **influence.describe(),
        "dissimilarity": DISSIMILARITY, "images": int(images.shape[0]),
        "image_size": list(images.shape[-2:]), "device": str(images.device),
        "dtype": str(images.dtype).replace("torch.", ""),
    }
    surrogate = describe(beta)
    result = _result(attack, original_scores, config, surrogate)
    result.damping_sensitivity = sensitivity
    if random is not None:
        random_config = {**config, "attack": "random-sign", "steps": random.steps_run,
                         "dissimilarity": DISSIMILARITY + " (measured, not optimised)"}
        result.baseline = _result(random, original_scores, random_config,
                                  "none: random sign noise, no gradient")
    return result


def _descend(model, layer, influence: TrainingInfluence, box: _Box, steps: int, beta: float,
             gamma: float, tracker: _Tracker) -> None:
    bounds = box.ball()
    x = box.images
    for step in range(1, steps + 1):
        grad = _surrogate_gradient(model, layer, influence, x, tracker, beta, gamma)
        x = signed_step(x, grad, box, bounds)
        if not _offer(model, layer, influence, x, step, tracker):
            return


def _surrogate_gradient(model, layer, influence: TrainingInfluence, x: torch.Tensor,
                        tracker: _Tracker, beta: float, gamma: float) -> torch.Tensor:
    """grad_x of -top_k_influence + gamma * log p(original label), through softplus(beta)."""
    x = x.detach().requires_grad_(True)
    with softplus_relu(beta):
        features, logits = _forward(model, layer, x)
    scores = influence.scores(logits, tracker.labels, features)
    log_p = torch.log_softmax(logits.double(), dim=1).gather(1, tracker.labels.unsqueeze(1)).squeeze(1)
    return gradient((gamma * log_p - top_k_influence(scores, tracker.chosen)).sum(), x)


def _random_signs(model, layer, influence: TrainingInfluence, box: _Box, draws: int, seed: int,
                  tracker: _Tracker) -> None:
    """The baseline: x_t + epsilon * (fresh random signs) each step, clipped to [0,1]."""
    generator = torch.Generator().manual_seed(seed)     # never the global RNG
    for step in range(1, draws + 1):
        signs = torch.randint(0, 2, box.images.shape, generator=generator) * 2 - 1
        x = (box.images + box.epsilon * signs.to(box.images)).clamp(0.0, 1.0)
        if not _offer(model, layer, influence, x, step, tracker):
            return


def _offer(model, layer, influence: TrainingInfluence, x: torch.Tensor, step: int, tracker: _Tracker) -> bool:
    """Score the iterate on the real network and offer it to the tracker."""
    with torch.no_grad():
        features, logits = _forward(model, layer, x)
        scores = influence.scores(logits, tracker.labels, features)
    return tracker.offer(step, x, scores, logits)


def _result(tracker: _Tracker, original_scores: torch.Tensor, config: dict, surrogate: str) -> InfluenceResult:
    history = tracker.finish()
    before = top_k_influence(original_scores, tracker.chosen)
    metrics = {"spearman": tracker.values["spearman"],
               "top_k_intersection": tracker.values["top_k_intersection"],
               "top_k_influence_before": before,
               "top_k_influence_after": tracker.values["top_k_influence"]}
    return InfluenceResult(
        perturbed=tracker.perturbed, original_scores=original_scores, perturbed_scores=tracker.scores,
        labels=tracker.labels, perturbed_labels=tracker.perturbed_labels,
        labels_kept=tracker.perturbed_labels == tracker.labels, found=tracker.found, metrics=metrics,
        history=history, config=config, surrogate=surrogate, steps_run=tracker.steps_run,
        stopped_early=tracker.stopped_early)
