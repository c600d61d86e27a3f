"""One attack run's fixed inputs, and the two operations every attack loop shares."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..explainers import Method, saliency_map
from ..models.model import Model

# At most this many images (input images x the method's points per image, e.g. IG's steps)
# go through the network in one pass of an attack step; larger batches are split into
# groups of whole images. Images are independent, so the results do not change; only the
# working set of the double backprop does. Chosen with benchmarks/bench_attack_step.py
# (--points-per-pass) on 2 CPU threads, bundled 64px net, batch 16, IG with M=8: a step took
# 0.88-1.06 s at 24-32 points per pass, 1.0-1.07 s at 48-64 and 1.4 s unsplit (128), while
# the gradient step (16 points) is the same at any budget >= 16; 32 is the smallest budget
# on the flat part, so the least memory.
POINTS_PER_PASS = 32


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
        """Consecutive groups of images whose passes stay within POINTS_PER_PASS."""
        n = self.images.shape[0]
        size = max(1, POINTS_PER_PASS // self.method.points(self.options)) if self.method.groupable else n
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
