"""Explanation methods over one gradient core, registered by name.

`explain(model, images, method)` gives normalised saliency maps (N,H,W); each method's
module holds only what makes that method different.
"""

from __future__ import annotations

import torch

from ..models.model import as_model, evaluation
from ..validation import check_images
from . import gradient, gradient_x_input, integrated_gradients, smoothgrad, deeplift, gradcam, guided_backprop, guided_gradcam, lrp  # noqa: F401,E501  (each import registers a method)
from ._core import Explanation, saliency_map
from .registry import Method, get_method, methods, register

__all__ = ["Explanation", "Method", "attribute", "check_options", "explain", "get_method",
           "methods", "register", "saliency_map"]


def check_options(method: Method, options: dict) -> dict:
    """The method's defaults updated with `options`, validated; unknown names are an error."""
    return method.check(options)


def attribute(model, images: torch.Tensor, method: str = "gradient", target=None,
              **options) -> Explanation:
    """Raw attributions and logits of `method` for `images` (detached)."""
    spec = get_method(method)
    options = check_options(spec, options)
    model = as_model(model)
    images = check_images(images).to(model.device)
    with evaluation(model):
        result = spec.fn(model, images, target, create_graph=False, **options)
    return Explanation(result.attributions.detach(), result.logits.detach())


def explain(model, images: torch.Tensor, method: str = "gradient", target=None,
            **options) -> torch.Tensor:
    """Saliency maps (N,H,W), non-negative, each summing to 1 (see DESIGN.md)."""
    return saliency_map(attribute(model, images, method, target, **options).attributions)
