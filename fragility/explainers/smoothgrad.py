"""SmoothGrad (Smilkov et al., 2017): gradients averaged over noisy copies of the input.

Noise: n Gaussian draws per image with standard deviation sigma x (pixel range), the
pixel range being 1 for images in [0,1]. The draws come from a `torch.Generator` on the
input's device seeded with `seed` (never the global generator), laid out as captum's
`NoiseTunnel` lays them out (copies of an image adjacent, `repeat_interleave`), so the
same seed always gives the same map.
"""

from __future__ import annotations

import torch

from ..validation import check_number
from ._core import Explanation, gradient, pick_target, requiring_grad, selected_logits
from .registry import register

PIXEL_RANGE = 1.0


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
                      "the pixel range.",
          options={"samples": 50, "sigma": 0.15, "seed": 0},
          points=lambda options: check_number(options["samples"], "samples", low=1, integer=True) + 1,
          groupable=False)  # the noise is drawn for the whole batch at once
def smoothgrad(model, x, target=None, *, create_graph: bool = False, samples: int = 50,
               sigma: float = 0.15, seed: int = 0) -> Explanation:
    samples = check_number(samples, "samples", low=1, integer=True)
    sigma = check_number(sigma, "sigma", low=0)
    seed = check_number(seed, "seed", low=0, integer=True)
    n = x.shape[0]
    noisy = requiring_grad(noisy_copies(x, samples, sigma * PIXEL_RANGE, seed))
    logits = model(torch.cat([x, noisy]))  # one batch: the logits at x and at every copy
    target = pick_target(logits[:n], target)
    noisy_target = target.repeat_interleave(samples)
    grads = gradient(selected_logits(logits[n:], noisy_target), noisy, create_graph)
    return Explanation(grads.view(n, samples, *x.shape[1:]).mean(dim=1), logits[:n])
