"""Checks on user-supplied tensors and numbers, shared by the whole API."""

from __future__ import annotations

import math

import torch

from .errors import ConfigError, InputError


def check_images(images: torch.Tensor, *, name: str = "images") -> torch.Tensor:
    """Return `images` as a float (N,3,H,W) batch in [0,1], or raise InputError.

    A single (3,H,W) image is promoted to a batch of one. Integer tensors are refused
    rather than guessed at: use `fragility.load_image` to convert files and arrays.
    """
    if not isinstance(images, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(images).__name__}; "
                         "use fragility.load_image() to read files, PIL images or arrays")
    if images.dim() == 3:
        images = images.unsqueeze(0)
    if images.dim() != 4 or images.shape[1] != 3:
        raise InputError(f"{name} must have shape (N,3,H,W) or (3,H,W), got {tuple(images.shape)}")
    if images.shape[0] == 0 or images.shape[2] < 2 or images.shape[3] < 2:
        raise InputError(f"{name} is empty: shape {tuple(images.shape)}")
    if images.is_meta:
        raise InputError(f"{name} are on the meta device (a shape without values); give real "
                         "pixel values, e.g. fragility.load_image(path)")
    if not images.is_floating_point():
        raise InputError(f"{name} must be floating point with values in [0,1], got dtype {images.dtype}")
    detached = images.detach()
    if not torch.isfinite(detached).all():
        raise InputError(f"{name} contains NaN or infinite values")
    low, high = float(detached.min()), float(detached.max())
    if low < 0.0 or high > 1.0:
        raise InputError(f"{name} must have values in [0,1], got range [{low:.4g}, {high:.4g}]")
    return images


def check_number(value: object, name: str, *, low: float | None = None, high: float | None = None,
                 low_inclusive: bool = True, integer: bool = False) -> float | int:
    """Return `value` if it is a finite number within the bounds, else raise ConfigError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if integer and int(value) != value:
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if low is not None and (value < low or (not low_inclusive and value == low)):
        bound = ">=" if low_inclusive else ">"
        raise ConfigError(f"{name} must be {bound} {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"{name} must be <= {high}, got {value!r}")
    return int(value) if integer else value
