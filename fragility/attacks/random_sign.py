"""The random-sign baseline: noise of the same L-inf size as the attack, three ways.

If an attack changes the map no more than random noise of the same size does, it shows
nothing; Ghorbani et al. report every attack against this control. Each way makes `steps`
seeded candidates and keeps, per image, the best one by the same criterion as the attack it
is compared with, among the candidates that keep the label:

- `draws="every-step"` (the default): each candidate is an independent corner draw,
  x_t + eps * sign(noise), every pixel moved by the full eps (clipped to [0,1]). This is not
  the authors' baseline: a corner draw has the largest L2 norm the eps-ball allows, and on
  the bundled model it changes the maps more than their walk does (benchmarks/RESULTS.md,
  "Random-sign baselines"), so claims measured against it are conservative.
- `draws="walk"`: the authors' baseline. A cumulative walk of alpha-sized random sign steps,
  x <- x + step_size * sign(noise), projected onto the eps-ball and [0,1] after each step.
- `draws="single"`: one corner draw (the weakest of the three).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import torch

from ..registry import Parameter
from .parameters import EPSILON, GAMMA, K, REGION, SEED, STEP_SIZE, STEPS, TARGET_MAP
from .registry import ATTACKS, get_attack, register
from .setting import Setting, evaluate, signed_step
from .tracking import Tracker

DRAWS = ("every-step", "walk", "single")


def run(setting: Setting, tracker: Tracker) -> None:
    """Offer each candidate to the tracker (which keeps the best label-keeping one)."""
    for step, x in enumerate(candidates(setting), start=1):
        maps, logits = evaluate(setting, x)
        if not tracker.offer(step, x, maps, logits):
            return


def candidates(setting: Setting) -> Iterator[torch.Tensor]:
    """The seeded candidates of `setting.values["draws"]`, each in the eps-ball and [0,1]."""
    generator = torch.Generator().manual_seed(setting.seed)  # never the global RNG
    draws = setting.values["draws"]
    count = min(setting.steps, 1) if draws == "single" else setting.steps
    bounds = setting.ball()
    x = setting.images
    for _ in range(count):
        signs = torch.randint(0, 2, setting.images.shape, generator=generator) * 2 - 1
        signs = signs.to(device=setting.images.device, dtype=setting.images.dtype)
        if draws == "walk":
            x = signed_step(x, signs, setting, bounds)
        else:
            x = (setting.images + setting.epsilon * signs).clamp(0.0, 1.0)
        yield x


def criterion_objective(reference):
    """The dissimilarity of the attack named by the `criterion` parameter."""
    return get_attack(reference.values["criterion"]).objective(reference)


def _criteria() -> tuple[str, ...]:
    return tuple(spec.name for spec in ATTACKS if spec.kind == "interpretation")


register(
    "random-sign", kind="baseline", objective=criterion_objective,
    parameters=(EPSILON, STEPS, replace(STEP_SIZE, help="alpha of draws=\"walk\": the change of each "
                                        "pixel per random step (the other draws move every pixel by eps)"),
                K, SEED,
                Parameter("draws", DRAWS[0], "every-step (default): an independent +-eps corner draw "
                          "per step, the best label-keeping one kept (stronger than the authors' "
                          "baseline in L2, so claims against it are conservative); walk: the "
                          "authors' baseline, a cumulative walk of step_size random sign steps "
                          "projected onto the eps-ball; single: one corner draw",
                          kind="choice", choices=DRAWS),
                Parameter("criterion", "top-k", "the attack this baseline is compared with: its "
                          "dissimilarity picks the best draw", kind="choice", choices=_criteria()),
                replace(REGION, optional=True), replace(TARGET_MAP, optional=True), GAMMA),
    title="Random sign noise (baseline)",
    description="Adds noise of the same size, +eps or -eps on every pixel at random: the control "
                "every attack is compared with. By default a fresh corner draw is made at every "
                "step and the draw that changes the map most (by the compared attack's measure) "
                "while keeping the label is kept; this is stronger than the authors' baseline "
                "(draws=\"walk\": a cumulative walk of small random sign steps inside the "
                "eps-ball), so an attack that beats it beats theirs too. An attack matters only if "
                "it changes the map far more than this (Ghorbani, Abid & Zou, 2019).",
    objective_description="the compared attack's dissimilarity (measured, not optimised)")
