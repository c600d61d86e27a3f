"""Heo et al.'s three passive fooling objectives on the bundled model, reported as they do:
the Fooling Success Rate and the accuracy drop, on fresh generated images, real ReLU network.

    python scripts/manipulation_objectives.py [--steps 300] [--train-images 512] [--eval-images 500]
        [--objectives location,top-k,center-mass] [--relu]
"""

from __future__ import annotations

import argparse
import time

import torch

import fragility as fg
from fragility.manipulation import EVAL_SEED, FOOLED, TRAIN_SEED, fooling, manipulate
from fragility.synthetic import make_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--train-images", type=int, default=512)
    parser.add_argument("--eval-images", type=int, default=500)
    parser.add_argument("--objectives", default="location,top-k,center-mass")
    parser.add_argument("--relu", action="store_true", help="the penalty on the plain ReLU network")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    original = fg.load_model("bundled", device=args.device)
    images, labels, masks = make_dataset(args.train_images, TRAIN_SEED)
    test_images, test_labels, test_masks = make_dataset(args.eval_images, EVAL_SEED)
    surrogate = "plain ReLU" if args.relu else "softplus(10)"
    print(f"{args.steps} steps on {args.train_images} images, penalty on {surrogate}; "
          f"{args.eval_images} fresh images")
    for objective in args.objectives.split(","):
        start = time.perf_counter()
        result = manipulate(original, images, labels, "top-left", masks, steps=args.steps,
                            objective=objective, beta=None if args.relu else 10.0)
        report = fooling(original, result.model, test_images, test_labels, objective, "top-left",
                         test_masks)
        baseline = fooling(original, original, test_images, test_labels, objective, "top-left", test_masks)
        print(f"{objective:12} FSR {report['fsr']:.1%} (original model: {baseline['fsr']:.1%}; "
              f"{FOOLED[objective]}); accuracy {report['accuracy_before']:.2%} -> "
              f"{report['accuracy_after']:.2%} (drop {100 * report['accuracy_drop']:.2f} points); "
              f"mean measure {report['measure'].mean():.3f}; {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
