"""Guided Grad-CAM (Selvaraju et al., 2017): guided backpropagation times Grad-CAM.

The guided-backprop attributions (N,3,H,W) multiplied by the upsampled Grad-CAM map
(N,1,H,W): fine detail from guided backprop, kept only where the class-activation map is
positive. Equals captum's `GuidedGradCam` with `interpolate_mode="bilinear"` (captum's
default upsampling is "nearest"; Grad-CAM here is upsampled bilinearly, as in the paper).
Attack surrogate: both factors on the softplus network (guided backprop's surrogate rule).
"""

from __future__ import annotations

from ..smooth import softplus_relu
from ._core import Explanation, input_gradient
from .gradcam import LAYER, class_activation
from .guided_backprop import guided_relu
from .registry import register


def _guided_gradcam(model, x, target, create_graph, layer, beta):
    with guided_relu(beta):
        guided, _ = input_gradient(model, x, target, create_graph)
    if beta is None:
        cam, logits = class_activation(model, x, target, create_graph, layer)
    else:
        with softplus_relu(beta):
            cam, logits = class_activation(model, x, target, create_graph, layer)
    return Explanation(guided * cam, logits)


@register("guided-gradcam", title="Guided Grad-CAM",
          description="Guided backpropagation multiplied by the Grad-CAM map: sharp detail, but "
                      "only where the class-activation map is positive (Selvaraju et al., 2017).",
          parameters=(LAYER,), points=lambda options: 2,
          surrogate=lambda model, x, target, beta, create_graph=True, layer=None:
              _guided_gradcam(model, x, target, create_graph, layer, beta),
          surrogate_description=lambda beta:
              f"guided backprop and Grad-CAM on the network with ReLU replaced by "
              f"softplus(beta={beta:g}); checked on the real network")
def guided_gradcam(model, x, target=None, *, create_graph: bool = False,
                   layer: str | None = None) -> Explanation:
    return _guided_gradcam(model, x, target, create_graph, layer, None)
