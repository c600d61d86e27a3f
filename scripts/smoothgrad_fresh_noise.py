"""The SmoothGrad defence attacked with one fixed noise draw per step against fresh noise
every step (expectation over the noise), scored the same way (independent noise).

Printed, as means over the images: Spearman / top-k intersection after the top-k attack on
the gradient with the SmoothGrad defence, fixed noise and fresh noise, beside the noise
floor and random sign.

    python scripts/smoothgrad_fresh_noise.py [--steps 30] [--images 4] [--samples 16]
"""

from __future__ import annotations

import argparse

import fragility as fg
from measured_on import bundled_and_samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()
    model, images = bundled_and_samples(args.images)

    def scores(metrics) -> str:
        return f"{metrics['spearman'].mean():.3f} / {metrics['top_k_intersection'].mean():.3f}"

    print(f"top-k attack on gradient + SmoothGrad defence ({args.samples} samples), {args.steps} steps, "
          f"{len(images)} images; Spearman / top-k intersection")
    for fresh in (False, True):
        result = fg.attack(model, images, "gradient", "top-k", steps=args.steps, defence="smoothgrad",
                           defence_options={"samples": args.samples, "fresh_noise": fresh})
        print(f"fresh_noise={fresh!s:5}  attack {scores(result.metrics)}   noise floor "
              f"{scores(result.noise_floor)}", flush=True)
    baseline = fg.attack(model, images, "gradient", "random-sign", steps=args.steps, defence="smoothgrad",
                         defence_options={"samples": args.samples})
    print(f"random sign (best of {args.steps} draws) {scores(baseline.metrics)}")


if __name__ == "__main__":
    main()
