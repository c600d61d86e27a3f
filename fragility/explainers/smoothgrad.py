"""SmoothGrad (Smilkov et al., 2017): gradients averaged over noisy copies of the input.

Noise: n Gaussian draws per image with standard deviation sigma x (pixel range), the
pixel range being 1 for images in [0,1]. The draws come from a `torch.Generator` on the
input's device seeded with `seed` (never the global generator), laid out as captum's
`NoiseTunnel` lays them out (copies of an image adjacent, `repeat_interleave`), so the
same seed always gives the same map. Attacks score SmoothGrad with noise drawn from
another seed than the one they optimise against (see attacks/setting.py).
"""

from __future__ import annotations

import torch

from ..registry import Parameter
from ._core import Explanation, requiring_grad, target_gradient
from .registry import register

PIXEL_RANGE = 1.0
PARAMETERS = (
    Parameter("samples", 50, "noisy copies averaged per image", kind="int", low=1, high=10_000,
              widget_high=500),
    Parameter("sigma", 0.15, "noise level as a fraction of the pixel range", low=0.0, high=10.0),
    Parameter("seed", 0, "seed of the noise", kind="int", low=0, high=2**63 - 1, advanced=True),
)


def noisy_copies(x: torch.Tensor, samples: int, std: float, seed: int) -> torch.Tensor:
    """(N*samples, C,H,W): each image repeated `samples` times, plus seeded N(0, std^2) noise."""
    generator = torch.Generator(device=x.device).manual_seed(seed)
    shape = (x.shape[0] * samples, *x.shape[1:])
    noise = torch.randn(shape, generator=generator, dtype=x.dtype, device=x.device) * std
    return x.repeat_interleave(samples, dim=0) + noise


@register("smoothgrad", title="SmoothGrad",
          description="The simple gradient averaged over many copies of the image with Gaussian "
                      "noise added, which removes much of the gradient's speckle (Smilkov, Thorat, "
                      "Kim, Viegas & Wattenberg, 2017). sigma is the noise level as a fraction of "
                      "the pixel range. Its maps are random: the same image with fresh noise "
                      "gives a slightly different map, its noise floor.",
          parameters=PARAMETERS, seed_options=("seed",),
          points=lambda options: options["samples"] + 1,
          groupable=False)  # the noise is drawn for the whole batch at once
def smoothgrad(model, x, target=None, *, create_graph: bool = False, samples: int = 50,
               sigma: float = 0.15, seed: int = 0) -> Explanation:
    n = x.shape[0]
    noisy = requiring_grad(noisy_copies(x, samples, sigma * PIXEL_RANGE, seed))
    # One batch: the logits at x (which pick the target) and at every noisy copy.
    grads, logits, _ = target_gradient(model, torch.cat([x, noisy]), target, create_graph, explained=n,
                                       scored=slice(n, None), wrt=noisy,
                                       per_row=lambda t: t.repeat_interleave(samples))
    return Explanation(grads.view(n, samples, *x.shape[1:]).mean(dim=1), logits)
