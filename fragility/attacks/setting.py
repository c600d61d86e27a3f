"""One attack run's fixed inputs, and the two operations every attack loop shares."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..explainers import Method, saliency_map
from ..models.model import Model
from . import budget

# Larger batches are split into groups of whole images, so that one pass of an attack step
# (input images x the method's points per image, e.g. IG's steps) fits the device: see
# budget.py (CUDA: from the free memory; CPU: a byte budget). Images are independent, so the
# results do not change; only the working set of the double backprop does. A number here
# fixes the budget instead (tests, benchmarks).
POINTS_PER_PASS: int | None = None


@dataclass(frozen=True)
class Setting:
    model: Model
    method: Method
    options: dict               # the method's options, defaults filled in: what the attack optimises
    images: torch.Tensor        # (N,3,H,W) originals, on the model's device and dtype
    target: torch.Tensor        # (N,) the explained classes (by default the original predictions)
    values: dict                # the attack's parameters, validated
    # The options the real network's maps are scored with: `options` itself for a
    # deterministic method; for a stochastic one (SmoothGrad) the same with noise from a
    # stream independent of the noise the attack optimises against, so that the reported
    # change is not the attack fitting its own noise.
    scoring_options: dict

    @property
    def epsilon(self) -> float:
        return self.values["epsilon"]

    @property
    def steps(self) -> int:
        return self.values["steps"]

    @property
    def step_size(self) -> float:
        return self.values["step_size"]

    @property
    def beta(self) -> float:
        return self.values["beta"]

    @property
    def seed(self) -> int:
        return self.values["seed"]

    def ball(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-pixel bounds of the L-inf ball of radius epsilon, intersected with [0,1]."""
        return (self.images - self.epsilon).clamp_min(0.0), (self.images + self.epsilon).clamp_max(1.0)

    def groups(self) -> list[slice]:
        """Consecutive groups of images whose passes fit the device's budget of points."""
        n = self.images.shape[0]
        if not self.method.groupable:
            return [slice(0, n)]
        points = POINTS_PER_PASS or budget.points_per_pass(self.model, self.method, self.options, self.images)
        size = max(1, points // self.method.points(self.options))
        return [slice(start, start + size) for start in range(0, n, size)]


def evaluate(setting: Setting, x: torch.Tensor, options: dict | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The real network's saliency maps and logits at `x` (one forward + backward per group),
    with the scoring options unless `options` are given."""
    options = setting.scoring_options if options is None else options
    maps, logits = [], []
    for group in setting.groups():
        target = None if setting.target is None else setting.target[group]
        explanation = setting.method.fn(setting.model, x[group], target, create_graph=False, **options)
        maps.append(saliency_map(explanation.attributions.detach()))
        logits.append(explanation.logits.detach())
    return torch.cat(maps), torch.cat(logits)


def signed_step(x: torch.Tensor, grad: torch.Tensor, setting: Setting,
                bounds: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """x + step_size * sign(grad), projected onto the eps-ball around the images and [0,1]."""
    lower, upper = bounds
    return torch.minimum(torch.maximum(x.detach() + setting.step_size * grad.sign(), lower), upper)
