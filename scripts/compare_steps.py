"""How many steps the compare page needs before its ranking stops changing.

For each method, one long top-k attack and one long random-sign baseline (same eps, best
of as many draws as steps) on several generated samples; an attack of t steps is exactly
the first t steps of a longer one (the same iterates, the same seeded draws), so the
best-so-far history gives every shorter run. The ranking is by the effect beyond chance
(random sign's Spearman minus the attack's, averaged over the images); printed: Kendall's
tau of the ranking at each step count with the ranking at the longest.

    python scripts/compare_steps.py [--steps 200] [--images 4]
"""

from __future__ import annotations

import argparse
import time

import torch
from scipy.stats import kendalltau

import fragility as fg
from measured_on import bundled_and_samples

CHECKPOINTS = (5, 10, 25, 50, 100, 150, 200, 300)


def gaps(model, images, method: str, steps: int) -> torch.Tensor:
    """(steps,) mean over images of Spearman(random sign) - Spearman(attack) after each step."""
    attack = fg.attack(model, images, method=method, attack="top-k", steps=steps)
    baseline = fg.attack(model, images, method=method, attack="random-sign", criterion="top-k", steps=steps)
    attacked = torch.tensor([row["spearman"] for row in attack.history])
    random = torch.tensor([row["spearman"] for row in baseline.history])
    return (random - attacked).mean(dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--images", type=int, default=4)
    args = parser.parse_args()
    model, images = bundled_and_samples(args.images)
    curves = {}
    for method in fg.methods():
        started = time.perf_counter()
        curves[method] = gaps(model, images, method, args.steps)
        print(f"{method:22} gap at {args.steps} steps {curves[method][-1]:.3f} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    names = list(curves)
    final = [float(curves[name][-1]) for name in names]
    print(f"\nKendall tau of the ranking with the {args.steps}-step ranking:")
    for steps in [c for c in CHECKPOINTS if c <= args.steps]:
        tau = kendalltau(final, [float(curves[name][steps - 1]) for name in names]).statistic
        order = sorted(names, key=lambda name: -float(curves[name][steps - 1]))
        print(f"  {steps:4} steps: tau {tau:.2f}   {' > '.join(order)}")


if __name__ == "__main__":
    main()
