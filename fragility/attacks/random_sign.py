"""The paper's baseline: random sign noise of the same size, x_t + eps * sign(noise).

If an attack changes the map no more than random noise of the same L-inf size does, it
shows nothing; Ghorbani et al. report every attack against this control. Its result is
measured with the top-k dissimilarity so that it can be compared with the top-k attack.
"""

from __future__ import annotations

import torch

from .registry import register
from .setting import Setting, evaluate
from .top_k import top_k_objective
from .tracking import Tracker


def run(setting: Setting, tracker: Tracker) -> None:
    """One draw of random signs (when steps >= 1), seeded, clipped to [0,1]."""
    if setting.steps == 0:
        return
    generator = torch.Generator().manual_seed(setting.seed)  # never the global RNG
    signs = torch.randint(0, 2, setting.images.shape, generator=generator) * 2 - 1
    signs = signs.to(device=setting.images.device, dtype=setting.images.dtype)
    x = (setting.images + setting.epsilon * signs).clamp(0.0, 1.0)
    maps, logits = evaluate(setting, x)
    tracker.offer(1, x, maps, logits)


register(
    "random-sign", kind="baseline", objective=top_k_objective,
    title="Random sign noise (baseline)",
    description="Adds noise of the same size, +eps or -eps on every pixel at random: the control "
                "every attack is compared with. An attack matters only if it changes the map far "
                "more than this (Ghorbani, Abid & Zou, 2019).",
    objective_description="minus the perturbed map's mass on the original top-k pixels "
                          "(measured, not optimised)")
