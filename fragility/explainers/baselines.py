"""Reference images for path and difference methods (integrated gradients, DeepLIFT).

- "black": all zeros.
- "mean":  each image's own channel means, as a constant image (the "mean image" of a
           single input: every pixel gets that image's average colour).
- "blur":  the image under a Gaussian blur with sigma = shortest side / 20 pixels
           (torchvision's gaussian_blur, kernel covering +-3 sigma).

Each baseline is a differentiable function of the image, so an attack that moves the
image moves the baseline with it, exactly as the explanation of the moved image would.
"""

from __future__ import annotations

import math

import torch
from torchvision.transforms.functional import gaussian_blur

from ..errors import unknown_name

BLUR_FRACTION = 1 / 20


def black(x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x)


def mean(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=(2, 3), keepdim=True).expand_as(x)


def blur(x: torch.Tensor) -> torch.Tensor:
    height, width = x.shape[-2:]
    sigma = max(min(height, width) * BLUR_FRACTION, 0.1)
    # An odd kernel covering +-3 sigma; reflect padding needs it below twice the side.
    kernel = min(2 * math.ceil(3 * sigma) + 1, 2 * min(height, width) - 1)
    return gaussian_blur(x, [kernel, kernel], [sigma, sigma])


BASELINES = {"black": black, "mean": mean, "blur": blur}


def baseline(x: torch.Tensor, name: str) -> torch.Tensor:
    """The reference image `name` for each image in `x` (same shape, dtype, device)."""
    return BASELINES[check_baseline(name)](x)


def check_baseline(name: object) -> str:
    """`name` if it names a baseline, else a ConfigError listing the valid ones."""
    if not isinstance(name, str) or name not in BASELINES:
        raise unknown_name("baseline", name, list(BASELINES))
    return name
