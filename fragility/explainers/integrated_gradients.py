"""Integrated gradients (Sundararajan, Taly & Yan, 2017), as in the paper.

IG(x) = (x - b) * (1/M) * sum_{k=1..M} grad f(b + k/M (x - b)): the right Riemann sum,
identical to captum's `IntegratedGradients(method="riemann_right")`. The point k = M is
x itself, so the logits at x come from the same batch as the other M - 1 points.
"""

from __future__ import annotations

import torch

from ..validation import check_number
from ._core import Explanation, gradient, pick_target, requiring_grad, selected_logits
from .baselines import baseline as make_baseline
from .baselines import check_baseline
from .registry import register


@register("integrated-gradients", title="Integrated gradients",
          description="Gradients averaged along the straight path from a baseline image "
                      "(black, the image's mean colour, or a blurred copy) to the input, times "
                      "the difference from the baseline; the attributions add up to the change "
                      "of the class score along the path (Sundararajan, Taly & Yan, 2017). The "
                      "paper uses M = 100 steps.",
          options={"steps": 100, "baseline": "black", "batch_size": None},
          points=lambda options: check_number(options["steps"], "steps", low=1, integer=True))
def integrated_gradients(model, x, target=None, *, create_graph: bool = False, steps: int = 100,
                         baseline: str = "black", batch_size: int | None = None) -> Explanation:
    steps = check_number(steps, "steps", low=1, integer=True)
    check_baseline(baseline)
    if batch_size is not None:
        batch_size = check_number(batch_size, "batch_size", low=1, integer=True)
    n = x.shape[0]
    reference = make_baseline(x, baseline)
    alphas = torch.arange(1, steps, dtype=x.dtype, device=x.device).div(steps).view(-1, 1, 1, 1, 1)
    # Step M (alpha = 1) first: it is x itself, and its logits give the default target.
    points = torch.cat([x.unsqueeze(0), reference + alphas * (x - reference)]).flatten(0, 1)
    steps_per_pass = steps if batch_size is None else max(1, batch_size // n)

    total, logits_at_x = 0, None
    for start in range(0, steps, steps_per_pass):
        chunk = requiring_grad(points[start * n:(start + steps_per_pass) * n])
        logits = model(chunk)
        if logits_at_x is None:
            logits_at_x = logits[:n]
            target = pick_target(logits_at_x, target)
        repeats = chunk.shape[0] // n
        grads = gradient(selected_logits(logits, target.repeat(repeats)), chunk, create_graph)
        total = total + grads.view(repeats, *x.shape).sum(dim=0)
    return Explanation((x - reference) * total / steps, logits_at_x)


