"""Algorithm 1 of Ghorbani, Abid & Zou (2019): the iterative interpretation attack.

x_0 = x_t; for each step, x <- x + alpha * sign(grad_x D(x_t, x)), projected onto the
L-inf ball of radius eps around x_t and onto [0,1]. The gradient is taken through the
method's smooth surrogate (a ReLU network's map is piecewise constant in x); every
candidate is then checked on the real network, and per image the iterate with the
largest dissimilarity whose label is unchanged is kept (the original when none is).
"""

from __future__ import annotations

from ..explainers import saliency_map
from ..explainers._core import gradient
from .setting import Setting, evaluate, signed_step
from .tracking import Tracker


def run(setting: Setting, tracker: Tracker) -> None:
    bounds = setting.ball()
    x = setting.images
    for step in range(1, setting.steps + 1):
        # One double backprop through the surrogate ...
        x = x.detach().requires_grad_(True)
        explanation = setting.method.differentiable(setting.model, x, setting.target, setting.beta,
                                                    **setting.options)
        dissimilarity = tracker.objective(saliency_map(explanation.attributions), explanation.logits)
        x = signed_step(x, gradient(dissimilarity.sum(), x), setting, bounds)
        # ... and one forward + backward of the real network to check the candidate.
        maps, logits = evaluate(setting, x)
        if not tracker.offer(step, x, maps, logits):
            return
