"""Grad-CAM (Selvaraju et al., 2017).

Channel weights are the spatial means of the target logit's gradient with respect to a
convolutional layer's output A; the map is relu(sum_c w_c A_c), upsampled bilinearly to
the input size and returned as (N,1,H,W) attributions. This equals captum's
`LayerGradCam(..., relu_attributions=True)` followed by
`LayerAttribution.interpolate(..., "bilinear")`. The layer is the model's last
`nn.Conv2d` unless one is named (a dotted module name, as in `named_modules()`).

The layer's output is captured by a forward hook that exists only while the model runs,
and the hook hands on a copy, so an in-place ReLU after the layer cannot change A. The
hook ignores forward passes of other threads, so one model can serve several dashboard
sessions at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, unknown_name
from ..models.model import Model
from ..registry import Parameter
from ._core import Explanation, requiring_grad, target_gradient
from .registry import register

LAYER = Parameter("layer", None, "the convolutional layer, by module name (none: the last "
                  "nn.Conv2d)", kind="text", optional=True, advanced=True)


def find_layer(model: nn.Module, name: str | None) -> tuple[str, nn.Module]:
    """(name, submodule): the named one, or the last nn.Conv2d when `name` is None."""
    root = model.net if isinstance(model, Model) else model
    convolutions = [n for n, m in root.named_modules() if isinstance(m, nn.Conv2d)]
    if name is None:
        if not convolutions:
            raise ConfigError("Grad-CAM needs a convolutional layer, and the model has no "
                              "nn.Conv2d; name a layer with 4-D output with layer=...")
        return convolutions[-1], root.get_submodule(convolutions[-1])
    if not isinstance(name, str):
        raise ConfigError(f"layer must be a module name (str) or None, got {name!r}")
    try:
        return name, root.get_submodule(name)
    except AttributeError:
        raise unknown_name("layer", name, convolutions or ["(the model has no nn.Conv2d)"]) from None


@contextlib.contextmanager
def captured_output(module: nn.Module) -> Iterator[list]:
    """Collects `module`'s outputs while the block runs; the hook is removed afterwards."""
    outputs = []
    owner = threading.get_ident()

    def keep(_module, _inputs, output):
        if threading.get_ident() != owner:
            return None
        outputs.append(output)
        return output.clone() if isinstance(output, torch.Tensor) else None

    handle = module.register_forward_hook(keep)
    try:
        yield outputs
    finally:
        handle.remove()


def channel_weights(grads: torch.Tensor) -> torch.Tensor:
    """Grad-CAM's weights: the spatial mean of each channel's gradient."""
    return grads.mean(dim=(2, 3), keepdim=True)


def class_activation(model, x, target, create_graph: bool, layer: str | None):
    """Grad-CAM's map (N,1,H,W), clamped at 0 and upsampled, with the logits at x."""
    name, module = find_layer(model, layer)
    x = requiring_grad(x)
    with captured_output(module) as outputs:
        grads, logits, _ = target_gradient(model, x, target, create_graph,
                                           wrt=lambda: _activation(outputs, name))
    activation = outputs[-1]
    # clamp_min, not relu: a ReLU here would be swapped for softplus by the attack's surrogate.
    cam = (channel_weights(grads) * activation).sum(dim=1, keepdim=True).clamp_min(0)
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return Explanation(cam, logits)


def _activation(outputs: list, layer: str) -> torch.Tensor:
    if not outputs:
        raise ConfigError(f"layer {layer!r} was not used when the model ran; name another layer")
    activation = outputs[-1]
    if not isinstance(activation, torch.Tensor) or activation.dim() != 4:
        shape = tuple(activation.shape) if isinstance(activation, torch.Tensor) else type(activation).__name__
        raise ConfigError(f"Grad-CAM needs a layer with (N,C,h,w) output; layer {layer!r} gives {shape}")
    return activation


@register("gradcam", title="Grad-CAM",
          description="A coarse class-activation map: the last convolutional layer's feature "
                      "maps weighted by the average gradient of the class score over each map, "
                      "kept where positive and upsampled to the image (Selvaraju et al., 2017).",
          parameters=(LAYER,))
def grad_cam(model, x, target=None, *, create_graph: bool = False,
             layer: str | None = None) -> Explanation:
    return class_activation(model, x, target, create_graph, layer)
