"""The influence attack on the bundled model against random sign, as the README reports it.

The first 10 synthetic samples, the first 200 training images scored, H from the last
--hessian-images of the training run, eps 8/255, k 5; the iterative attack (20 steps of
1/255) and the paper's single signed step of eps.

    python scripts/influence_attack_check.py [--hessian-images 2048]
"""

from __future__ import annotations

import argparse

import torch

import fragility as fg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hessian-images", type=int, default=fg.data.DEFAULT_HESSIAN_IMAGES)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = fg.load_model("bundled", device="cpu")
    images = torch.stack([sample.load(64) for sample in fg.samples("synthetic")[:10]])
    train, labels = fg.training_set("bundled", n=200)
    sample = fg.data.hessian_sample("bundled", n=args.hessian_images)
    for name, steps, step_size in (("iterative, 20 steps of 1/255", 20, 1 / 255),
                                   ("single signed step of 8/255", 1, 8 / 255)):
        result = fg.influence_attack(model, images, train, labels, epsilon=8 / 255, steps=steps,
                                     step_size=step_size, k=5, hessian_images=sample)
        attack, random = result.metrics, result.baseline.metrics
        print(f"{name}: top-5 intersection {attack['top_k_intersection'].mean():.2f} "
              f"(random sign {random['top_k_intersection'].mean():.2f}), Spearman "
              f"{attack['spearman'].mean():.2f} (random sign {random['spearman'].mean():.2f}), "
              f"found {int(result.found.sum())}/10, labels kept {int(result.labels_kept.sum())}/10")
    sensitivity = result.damping_sensitivity
    print(f"damping sensitivity: Spearman at lambda/10 {sensitivity['tenth'].mean():.2f}, "
          f"at 10 lambda {sensitivity['tenfold'].mean():.2f}; config {result.config['damping_absolute']:.3g} "
          f"absolute, {result.config['eigenvalues_below_damping']} of {result.config['theta_size']} "
          "eigenvalues below it")


if __name__ == "__main__":
    main()
