"""Integrated gradients (Sundararajan, Taly & Yan, 2017), as in the paper.

IG(x) = (x - b) * (1/M) * sum_{k=1..M} grad f(b + k/M (x - b)): the right Riemann sum,
identical to captum's `IntegratedGradients(method="riemann_right")`. The point k = M is
x itself, so the logits at x come from the same batch as the other M - 1 points.
"""

from __future__ import annotations

import torch

from ..registry import Parameter
from ._core import Explanation, target_gradient
from .baselines import baseline as make_baseline
from .baselines import baseline_parameter
from .registry import register

PARAMETERS = (
    Parameter("steps", 100, "points M on the path from the baseline to the image (the paper: 100)",
              kind="int", low=1, high=10_000, widget_high=500),
    baseline_parameter(),
    Parameter("batch_size", None, "at most this many path points per forward pass (none: all "
              "at once); lowers memory, not the result", kind="int", low=1, optional=True,
              advanced=True),
)


@register("integrated-gradients", title="Integrated gradients",
          description="Gradients averaged along the straight path from a baseline image (by "
                      "default the mean image of the training data) to the input, times the "
                      "difference from the baseline; the attributions add up to the change of "
                      "the class score along the path (Sundararajan, Taly & Yan, 2017). The "
                      "paper uses M = 100 steps.",
          parameters=PARAMETERS, points=lambda options: options["steps"])
def integrated_gradients(model, x, target=None, *, create_graph: bool = False, steps: int = 100,
                         baseline: str = "dataset-mean", batch_size: int | None = None) -> Explanation:
    n = x.shape[0]
    reference = make_baseline(x, baseline, model)
    alphas = torch.arange(1, steps, dtype=x.dtype, device=x.device).div(steps).view(-1, 1, 1, 1, 1)
    # Step M (alpha = 1) first: it is x itself, and its logits give the default target.
    points = torch.cat([x.unsqueeze(0), reference + alphas * (x - reference)]).flatten(0, 1)
    steps_per_pass = steps if batch_size is None else max(1, batch_size // n)

    total, logits_at_x = 0, None
    for start in range(0, steps, steps_per_pass):
        chunk = points[start * n:(start + steps_per_pass) * n]
        repeats = chunk.shape[0] // n
        grads, logits, target = target_gradient(model, chunk, target, create_graph, explained=n,
                                                per_row=lambda t, r=repeats: t.repeat(r))
        logits_at_x = logits if logits_at_x is None else logits_at_x
        total = total + grads.view(repeats, *x.shape).sum(dim=0)
    return Explanation((x - reference) * total / steps, logits_at_x)
