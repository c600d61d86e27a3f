"""Guided backpropagation (Springenberg et al., 2015).

Each ReLU's backward pass lets a gradient through only where both the ReLU's input and
the incoming gradient are positive: grad_in = max(grad_out, 0) * [z > 0]. This equals
`captum.attr.GuidedBackprop`. The rule exists only inside the `guided_relu` context.

Attack surrogate (the rule is piecewise constant in the input, so it has no useful
second derivative): forward softplus(beta) instead of ReLU, and backward
grad_in = max(grad_out, 0) * sigmoid(beta * z), i.e. the gate [z > 0] is replaced by the
softplus slope. The incoming gradients then vary smoothly with the input, so the guided
map has a non-zero derivative; as beta grows the surrogate tends to the real rule.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..smooth import ReluReplacement
from ._core import Explanation, input_gradient
from ._rules import with_rule
from .registry import register


def _guided(grad, z):
    return grad.clamp_min(0) * (z > 0).to(grad.dtype)


class guided_relu(ReluReplacement):
    """Context: every ReLU back-propagates by the guided rule (softplus surrogate with beta)."""

    def __init__(self, beta: float | None = None):
        super().__init__()
        self.beta = beta

    def replace(self, z: torch.Tensor) -> torch.Tensor:
        if self.beta is None:
            return with_rule(z, z.clamp_min(0), _guided)
        beta = self.beta
        return with_rule(z, F.softplus(z, beta=beta),
                         lambda grad, z: grad.clamp_min(0) * torch.sigmoid(beta * z))


def _guided_backprop(model, x, target, create_graph, beta):
    with guided_relu(beta):
        return input_gradient(model, x, target, create_graph)


@register("guided-backprop", title="Guided backpropagation",
          description="The gradient computed with a modified backward pass: each ReLU lets only "
                      "positive gradients through, and only where its input was positive, which "
                      "gives sharp, edge-like maps (Springenberg, Dosovitskiy, Brox & Riedmiller, "
                      "2015).",
          surrogate=lambda model, x, target, beta, create_graph=True:
              _guided_backprop(model, x, target, create_graph, beta),
          surrogate_description=lambda beta:
              f"guided backprop on the network with ReLU replaced by softplus(beta={beta:g}); "
              "backward max(grad, 0) * sigmoid(beta z) for the attack gradient; checked on the "
              "real network")
def guided_backprop(model, x, target=None, *, create_graph: bool = False) -> Explanation:
    return _guided_backprop(model, x, target, create_graph, None)
