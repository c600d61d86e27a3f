"""The paper's baseline: random sign noise of the same size, x_t + eps * sign(noise).

If an attack changes the map no more than random noise of the same L-inf size does, it
shows nothing; Ghorbani et al. report every attack against this control. As in their code,
the default draws a fresh random sign at every step and keeps, per image, the best draw by
the same criterion as the attack it is compared with, among draws that keep the label
(`draws="every-step"`); `draws="single"` is one draw (a weaker baseline).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from ..registry import Parameter
from .parameters import EPSILON, GAMMA, K, REGION, SEED, STEPS, TARGET_MAP
from .registry import ATTACKS, get_attack, register
from .setting import Setting, evaluate
from .tracking import Tracker

DRAWS = ("every-step", "single")


def run(setting: Setting, tracker: Tracker) -> None:
    """`steps` seeded draws (one for draws="single"), each clipped to [0,1] and checked."""
    generator = torch.Generator().manual_seed(setting.seed)  # never the global RNG
    draws = min(setting.steps, 1) if setting.values["draws"] == "single" else setting.steps
    for step in range(1, draws + 1):
        signs = torch.randint(0, 2, setting.images.shape, generator=generator) * 2 - 1
        signs = signs.to(device=setting.images.device, dtype=setting.images.dtype)
        x = (setting.images + setting.epsilon * signs).clamp(0.0, 1.0)
        maps, logits = evaluate(setting, x)
        if not tracker.offer(step, x, maps, logits):
            return


def criterion_objective(reference):
    """The dissimilarity of the attack named by the `criterion` parameter."""
    return get_attack(reference.values["criterion"]).objective(reference)


def _criteria() -> tuple[str, ...]:
    return tuple(spec.name for spec in ATTACKS if spec.kind == "interpretation")


register(
    "random-sign", kind="baseline", objective=criterion_objective,
    parameters=(EPSILON, STEPS, K, SEED,
                Parameter("draws", DRAWS[0], "every-step: a fresh random sign at every step, "
                          "keeping the best label-keeping draw (the authors' baseline); single: one "
                          "draw", kind="choice", choices=DRAWS),
                Parameter("criterion", "top-k", "the attack this baseline is compared with: its "
                          "dissimilarity picks the best draw", kind="choice", choices=_criteria()),
                replace(REGION, optional=True), replace(TARGET_MAP, optional=True), GAMMA),
    title="Random sign noise (baseline)",
    description="Adds noise of the same size, +eps or -eps on every pixel at random: the control "
                "every attack is compared with. As in the authors' code, a fresh draw is made at "
                "every step and the draw that changes the map most (by the compared attack's "
                "measure) while keeping the label is kept. An attack matters only if it changes "
                "the map far more than this (Ghorbani, Abid & Zou, 2019).",
    objective_description="the compared attack's dissimilarity (measured, not optimised)")
