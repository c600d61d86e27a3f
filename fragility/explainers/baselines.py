"""Reference images for path and difference methods (integrated gradients, DeepLIFT).

- "dataset-mean": the mean image of the model's training data, fixed: it never moves with
                  the explained (or attacked) image, as in Ghorbani et al. (2019). The
                  bundled model stores its pixel-wise mean image with its checkpoint;
                  torchvision models use the channel means of their weights' normalisation;
                  a wrapped model uses its `dataset_mean` (from `wrap_model(mean=...)`),
                  else black, with a warning.
- "black": all zeros.
- "mean":  each image's own channel means, as a constant image (moves with the image).
- "blur":  the image under a Gaussian blur with sigma = shortest side / 20 pixels
           (torchvision's gaussian_blur, kernel covering +-3 sigma; moves with the image).

The last two are differentiable functions of the image, so an attack that moves the image
moves such a baseline with it, exactly as the explanation of the moved image would.
"""

from __future__ import annotations

import math
import warnings

import torch
from torchvision.transforms.functional import gaussian_blur

from ..errors import ConfigError, unknown_name

BLUR_FRACTION = 1 / 20
DEFAULT = "dataset-mean"


def black(x: torch.Tensor, model=None) -> torch.Tensor:
    return torch.zeros_like(x)


def mean(x: torch.Tensor, model=None) -> torch.Tensor:
    return x.mean(dim=(2, 3), keepdim=True).expand_as(x)


def blur(x: torch.Tensor, model=None) -> torch.Tensor:
    height, width = x.shape[-2:]
    sigma = max(min(height, width) * BLUR_FRACTION, 0.1)
    # An odd kernel covering +-3 sigma; reflect padding needs it below twice the side.
    kernel = min(2 * math.ceil(3 * sigma) + 1, 2 * min(height, width) - 1)
    return gaussian_blur(x, [kernel, kernel], [sigma, sigma])


def dataset_mean(x: torch.Tensor, model=None) -> torch.Tensor:
    reference = getattr(model, "dataset_mean", None)
    if reference is None:
        warnings.warn("the model has no dataset mean (give wrap_model mean=... or dataset_mean=...); "
                      "using a black reference image instead", stacklevel=4)
        return torch.zeros_like(x)
    reference = reference.to(device=x.device, dtype=x.dtype)
    if reference.dim() == 3 and reference.shape[-2:] != x.shape[-2:] and reference.shape[-2:] != (1, 1):
        reference = torch.nn.functional.interpolate(reference[None], size=x.shape[-2:], mode="bilinear",
                                                    align_corners=False)[0]
    if reference.shape[0] != x.shape[1]:
        raise ConfigError(f"the model's dataset mean has {reference.shape[0]} channels, the images "
                          f"{x.shape[1]}")
    return reference.expand_as(x).detach()


BASELINES = {"dataset-mean": dataset_mean, "black": black, "mean": mean, "blur": blur}


def baseline(x: torch.Tensor, name: str, model=None) -> torch.Tensor:
    """The reference image `name` for each image in `x` (same shape, dtype, device)."""
    return BASELINES[check_baseline(name)](x, model)


def check_baseline(name: object) -> str:
    """`name` if it names a baseline, else a ConfigError listing the valid ones."""
    if not isinstance(name, str) or name not in BASELINES:
        raise unknown_name("baseline", name, list(BASELINES))
    return name


def baseline_parameter(default: str = DEFAULT) -> "Parameter":
    """The `baseline` option of a method that compares the image with a reference."""
    from ..registry import Parameter

    return Parameter("baseline", default, "the reference image: the training data's mean image "
                     "(fixed, as in the paper), black, the image's own mean colour, or a blurred "
                     "copy (the last two move with the image)", kind="choice",
                     choices=tuple(BASELINES))
