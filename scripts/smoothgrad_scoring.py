"""How much scoring SmoothGrad with the attack's own noise overstates the attack.

A top-k attack on SmoothGrad optimises against one draw of noise. Scored with that same
draw, the perturbed map is compared with the original map under identical noise (at eps 0
that is a top-k intersection of 1.0); scored as fragility does, with noise independent of
the attack's, the comparison carries SmoothGrad's own variability, whose size is the noise
floor (the same method on the unperturbed image with fresh noise). Printed, as means over
the images: the attack scored both ways, the noise floor, and the random-sign baseline.

    python scripts/smoothgrad_scoring.py [--steps 100] [--images 4] [--samples 50]
"""

from __future__ import annotations

import argparse

import fragility as fg
from measured_on import bundled_and_samples
from fragility.attacks.parameters import default_k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    model, images = bundled_and_samples(args.images)
    k = default_k(*images.shape[-2:])
    options = {"samples": args.samples, "seed": 0}
    attack = fg.attack(model, images, "smoothgrad", "top-k", method_options=options, steps=args.steps)
    baseline = fg.attack(model, images, "smoothgrad", "random-sign", method_options=options,
                         criterion="top-k", steps=args.steps)
    same_before = fg.explain(model, images, "smoothgrad", **options)
    same_after = fg.explain(model, attack.perturbed, "smoothgrad", **options)
    rows = {
        "attack, scored with the attack's noise": (fg.metrics.spearman(same_before, same_after),
                                                  fg.metrics.top_k_intersection(same_before, same_after, k)),
        "attack, scored with independent noise": (attack.metrics["spearman"],
                                                 attack.metrics["top_k_intersection"]),
        "noise floor (eps 0, independent noise)": (attack.noise_floor["spearman"],
                                                   attack.noise_floor["top_k_intersection"]),
        "random sign, independent noise": (baseline.metrics["spearman"],
                                           baseline.metrics["top_k_intersection"]),
    }
    print(f"SmoothGrad ({args.samples} samples), top-k attack, {args.steps} steps, "
          f"{len(images)} images, k={k}; labels kept {attack.labels_kept.float().mean():.2f}")
    print(f"{'':42} {'Spearman':>9} {'top-k':>7}")
    for name, (spearman, top_k) in rows.items():
        print(f"{name:42} {spearman.mean():9.3f} {top_k.mean():7.3f}")


if __name__ == "__main__":
    main()
