"""How much the damping sets the influence ranking on the bundled model.

For the 20 synthetic samples, the Spearman rank correlation of each image's influence
scores (over the first --train training images) at damping/10 and 10 x damping with its
scores at the damping: 1 means the ranking does not depend on the damping. Runs on any
version of fragility whose influence_scores takes `damping` (H from the scored images
where hessian_images is not supported, or with --hessian-images 0).

    python scripts/influence_damping.py [--damping D] [--train 200] [--hessian-images 2048]
"""

from __future__ import annotations

import argparse
import inspect

import torch

import fragility as fg
from fragility.metrics import average_ranks, correlation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--damping", type=float, default=None, help="default: the version's default")
    parser.add_argument("--train", type=int, default=200)
    parser.add_argument("--hessian-images", type=int, default=2048, help="0: H from the scored images")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = fg.load_model("bundled", device="cpu")
    images = torch.stack([sample.load(64) for sample in fg.samples("synthetic")])
    train, labels = fg.training_set("bundled", n=args.train)
    options = {}
    supports_sample = "hessian_images" in inspect.signature(fg.influence_scores).parameters
    if supports_sample and args.hessian_images:
        options["hessian_images"] = fg.data.hessian_sample("bundled", n=args.hessian_images)
    damping = args.damping if args.damping is not None else \
        inspect.signature(fg.influence_scores).parameters["damping"].default
    scores = {factor: fg.influence_scores(model, images, train, labels, damping=damping * factor, **options)
              for factor in (0.1, 1.0, 10.0)}
    base = average_ranks(scores[1.0])
    where = f"H from {args.hessian_images} other training images" if options else "H from the scored images"
    print(f"fragility {fg.__file__}; damping {damping:g}; {args.train} scored training images; {where}")
    for name, factor in (("lambda/10", 0.1), ("10 lambda", 10.0)):
        rho = correlation(base, average_ranks(scores[factor]))
        print(f"Spearman at {name} vs lambda: mean {rho.mean():.2f}, min {rho.min():.2f}, max {rho.max():.2f}")


if __name__ == "__main__":
    main()
