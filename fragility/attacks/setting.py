"""One attack run's fixed inputs, and the two operations every attack loop shares."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..explainers import Method, saliency_map
from ..models.model import Model


@dataclass(frozen=True)
class Setting:
    model: Model
    method: Method
    options: dict               # the method's options, defaults filled in
    images: torch.Tensor        # (N,3,H,W) originals, on the model's device and dtype
    target: torch.Tensor        # (N,) the originally predicted classes: explained throughout
    epsilon: float
    steps: int
    step_size: float
    beta: float
    seed: int

    def ball(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-pixel bounds of the L-inf ball of radius epsilon, intersected with [0,1]."""
        return (self.images - self.epsilon).clamp_min(0.0), (self.images + self.epsilon).clamp_max(1.0)


def evaluate(setting: Setting, x: torch.Tensor, target=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The real network's saliency maps and logits at `x` (one forward + one backward)."""
    explanation = setting.method.fn(setting.model, x, setting.target if target is None else target,
                                    create_graph=False, **setting.options)
    return saliency_map(explanation.attributions.detach()), explanation.logits.detach()


def signed_step(x: torch.Tensor, grad: torch.Tensor, setting: Setting,
                bounds: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """x + step_size * sign(grad), projected onto the eps-ball around the images and [0,1]."""
    lower, upper = bounds
    return torch.minimum(torch.maximum(x.detach() + setting.step_size * grad.sign(), lower), upper)
