"""PGD/FGSM label attack (Madry et al., 2018; Goodfellow et al., 2015), for contrast.

Maximises the cross-entropy of the original label on the real network with the same
signed steps and projection as Algorithm 1; steps=1 with step_size=eps is FGSM. The final
iterate is returned (its label is expected to change), with the same map metrics.
"""

from __future__ import annotations

import torch.nn.functional as F

from ..explainers._core import gradient
from .parameters import EPSILON, K, SEED, STEP_SIZE, STEPS
from .registry import register
from .setting import Setting, evaluate, signed_step
from .tracking import Tracker


def cross_entropy_objective(reference):
    def loss(maps, logits):
        return F.cross_entropy(logits, reference.labels, reduction="none")
    return loss


def run(setting: Setting, tracker: Tracker) -> None:
    bounds = setting.ball()
    x = setting.images
    for step in range(1, setting.steps + 1):
        x = x.detach().requires_grad_(True)
        loss = tracker.objective(None, setting.model(x))
        x = signed_step(x, gradient(loss.sum(), x), setting, bounds)
        maps, logits = evaluate(setting, x)
        if not tracker.offer(step, x, maps, logits):
            return


register(
    "pgd", kind="label", objective=cross_entropy_objective, parameters=(EPSILON, STEPS, STEP_SIZE, K, SEED),
    title="PGD label attack (contrast)",
    description="The classic adversarial example: signed gradient steps that raise the loss of the "
                "predicted class until the label changes (Madry et al., 2018; one step of size eps "
                "is FGSM, Goodfellow et al., 2015). Shown for contrast: interpretation attacks keep "
                "the label and change only the explanation.",
    objective_description="cross-entropy of the original label on the real network")
