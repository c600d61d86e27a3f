"""The random-sign baselines: one corner draw, the best of a corner draw per step (the
default), and the authors' walk of step_size random sign steps (best iterate).

Printed, as means over the images: Spearman / top-k intersection after the top-k attack,
after one random-sign draw, after the best label-keeping corner draw of one per step and
after the best label-keeping iterate of the walk (both by the top-k attack's own measure),
for each method, at eps 8/255 and step size 1/255 (the walk's).

    python scripts/random_sign_draws.py [--steps 100] [--images 8] [--methods gradient,deeplift]
"""

from __future__ import annotations

import argparse

import fragility as fg
from measured_on import bundled_and_samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--methods", default="gradient,deeplift")
    args = parser.parse_args()
    model, images = bundled_and_samples(args.images)

    def scores(result) -> str:
        return f"{result.metrics['spearman'].mean():.3f} / {result.metrics['top_k_intersection'].mean():.3f}"

    print(f"top-k attack, {args.steps} steps, {len(images)} images; Spearman / top-k intersection")
    for method in args.methods.split(","):
        attack = fg.attack(model, images, method, "top-k", steps=args.steps)
        single = fg.attack(model, images, method, "random-sign", criterion="top-k", draws="single",
                           steps=args.steps)
        best = fg.attack(model, images, method, "random-sign", criterion="top-k", steps=args.steps)
        walk = fg.attack(model, images, method, "random-sign", criterion="top-k", draws="walk",
                         steps=args.steps)
        print(f"{method:22} attack {scores(attack)}   one draw {scores(single)}   "
              f"best of {args.steps} draws {scores(best)}   walk {scores(walk)}", flush=True)


if __name__ == "__main__":
    main()
