"""The attack under each reference of integrated gradients and DeepLIFT.

The paper explains against a fixed reference (IG: a black image in its code's default,
DeepLIFT: the mean image of the data). A reference computed from the attacked image
itself (the image's own mean) moves with every step of the attack; the dataset mean does
not. Printed, as means over the images: Spearman and top-k intersection after a top-k
attack and after the random-sign baseline, for each reference.

    python scripts/reference_effect.py [--steps 50] [--images 4] [--ig-points 100]
"""

from __future__ import annotations

import argparse
import time

import fragility as fg
from measured_on import bundled_and_samples

REFERENCES = {"integrated-gradients": ("black", "mean", "dataset-mean"),
              "deeplift": ("black", "mean", "dataset-mean")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--ig-points", type=int, default=100, help="integrated gradients' M")
    args = parser.parse_args()
    model, images = bundled_and_samples(args.images)
    print(f"top-k attack, {args.steps} steps, {len(images)} images, IG M={args.ig_points}")
    print(f"{'method':22} {'reference':13} {'Spearman':>9} {'(random)':>9} {'top-k':>7} {'(random)':>9}")
    for method, references in REFERENCES.items():
        for reference in references:
            options = {"baseline": reference}
            if method == "integrated-gradients":
                options["steps"] = args.ig_points
            started = time.perf_counter()
            attack = fg.attack(model, images, method, "top-k", method_options=options, steps=args.steps)
            random = fg.attack(model, images, method, "random-sign", method_options=options,
                               criterion="top-k", steps=args.steps)
            print(f"{method:22} {reference:13} {attack.metrics['spearman'].mean():9.3f} "
                  f"{random.metrics['spearman'].mean():9.3f} "
                  f"{attack.metrics['top_k_intersection'].mean():7.3f} "
                  f"{random.metrics['top_k_intersection'].mean():9.3f}   "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
