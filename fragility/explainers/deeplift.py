"""DeepLIFT with the Rescale rule (Shrikumar, Greenside & Kundaje, 2017).

The input and its reference run as one batch [x; r], so every ReLU sees both halves.
Its backward pass uses the multiplier (relu(z_x) - relu(z_r)) / (z_x - z_r) instead of
the gradient (the gradient itself where |z_x - z_r| < 1e-10, as captum does), and the
attributions are (x - r) * multipliers. This equals `captum.attr.DeepLift` on networks
whose nonlinearities are ReLUs. Difference: captum also applies its own rule to
`nn.MaxPool` modules; here max pooling passes plain gradients (each half through its own
maximum), so results differ from captum on networks with max pooling.

Attack surrogate: the same Rescale rule on the network with softplus(beta) in place of
every ReLU (captum's DeepLift on `nn.Softplus` modules computes the same thing).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..smooth import ReluReplacement
from ._core import Explanation, target_gradient
from ._rules import with_rule
from .baselines import DEFAULT, baseline_parameter
from .baselines import baseline as make_baseline
from .registry import register

EPS = 1e-10


def _times_multiplier(grad, z, multiplier):
    return grad * multiplier


class rescale_rule(ReluReplacement):
    """Context: ReLUs over a [x; reference] batch pass gradients by the Rescale rule.

    beta=None keeps ReLU; a number uses softplus(beta) (the attack surrogate).
    """

    def __init__(self, beta: float | None = None):
        super().__init__()
        self.beta = beta

    def activation(self, z):
        return z.clamp_min(0) if self.beta is None else F.softplus(z, beta=self.beta)

    def slope(self, z):
        return (z > 0).to(z.dtype) if self.beta is None else torch.sigmoid(self.beta * z)

    def replace(self, z: torch.Tensor) -> torch.Tensor:
        value = self.activation(z)
        z_x, z_r = z.chunk(2)
        value_x, value_r = value.chunk(2)
        delta_in = torch.cat(2 * [z_x - z_r])
        delta_out = torch.cat(2 * [value_x - value_r])
        near = delta_in.abs() < EPS
        safe_delta_in = torch.where(near, torch.ones_like(delta_in), delta_in)
        multiplier = torch.where(near, self.slope(z), delta_out / safe_delta_in)
        return with_rule(z, value, _times_multiplier, multiplier)


def _deeplift(model, x, target, create_graph, baseline, beta):
    n = x.shape[0]
    reference = make_baseline(x, baseline, model)
    with rescale_rule(beta):
        multipliers, logits, _ = target_gradient(model, torch.cat([x, reference]), target, create_graph,
                                                 explained=n, scored=slice(0, n))
    return Explanation((x - reference) * multipliers[:n], logits)


@register("deeplift", title="DeepLIFT (Rescale)",
          description="Compares the network's activations on the image with those on a reference "
                      "image and shares the difference in class score among the pixels, passing "
                      "through each ReLU the ratio of output to input change instead of its "
                      "gradient (Shrikumar, Greenside & Kundaje, 2017, Rescale rule). The "
                      "reference is the mean image of the training data, as in the paper.",
          parameters=(baseline_parameter(),), points=lambda options: 2,
          surrogate=lambda model, x, target, beta, create_graph=True, baseline=DEFAULT:
              _deeplift(model, x, target, create_graph, baseline, beta),
          surrogate_description=lambda beta:
              f"DeepLIFT Rescale rule on the network with ReLU replaced by softplus(beta={beta:g}) "
              "for the attack gradient; checked on the real network")
def deeplift(model, x, target=None, *, create_graph: bool = False,
             baseline: str = DEFAULT) -> Explanation:
    return _deeplift(model, x, target, create_graph, baseline, None)
