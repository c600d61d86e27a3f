"""Simple gradient (Simonyan et al., 2014): d logit_target / d input."""

from ._core import Explanation, input_gradient
from .registry import register


@register("gradient", title="Simple gradient",
          description="How much each pixel's small change would change the class score: the "
                      "gradient of the target logit with respect to the input (Simonyan, Vedaldi "
                      "& Zisserman, 2014). The paper's first method.")
def simple_gradient(model, x, target=None, *, create_graph: bool = False) -> Explanation:
    return input_gradient(model, x, target, create_graph)
