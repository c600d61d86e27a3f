"""Gradient x input (Shrikumar et al., 2016): the gradient weighted by the pixel values."""

from ._core import Explanation, input_gradient, requiring_grad
from .registry import register


@register("gradient-x-input", title="Gradient x input",
          description="The simple gradient multiplied, pixel by pixel, by the input itself: a "
                      "first-order estimate of each pixel's contribution to the class score "
                      "(Shrikumar, Greenside, Shcherbina & Kundaje, 2016).")
def gradient_x_input(model, x, target=None, *, create_graph: bool = False) -> Explanation:
    x = requiring_grad(x)
    grad, logits = input_gradient(model, x, target, create_graph)
    return Explanation(grad * x, logits)
