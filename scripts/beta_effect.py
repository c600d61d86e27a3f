"""How the surrogate's softplus sharpness beta decides the attack's strength.

Printed, as means over the images: Spearman / top-k intersection after the top-k attack
for each beta, and the scale of the network's ReLU inputs (pre-activations) on the same
images, which sets where softplus(beta) departs from ReLU (|z| below about 1/beta).

    python scripts/beta_effect.py [--steps 20] [--images 6] [--betas 1,3,10,30] [--method gradient]
"""

from __future__ import annotations

import argparse

import torch

import fragility as fg
from fragility.smooth import ReluReplacement
from measured_on import bundled_and_samples


class RecordedRelu(ReluReplacement):
    """Plain ReLU that keeps the absolute values of its inputs."""

    def __init__(self):
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def replace(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x.detach().abs().flatten())
        return torch.nn.functional.relu(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--betas", default="1,3,10,30")
    parser.add_argument("--method", default="gradient")
    args = parser.parse_args()
    model, images = bundled_and_samples(args.images)

    recorder = RecordedRelu()
    with torch.no_grad(), recorder:
        model(images)
    scale = torch.cat(recorder.inputs)
    quantiles = torch.quantile(scale[:1_000_000], torch.tensor([0.25, 0.5, 0.75]))
    print(f"|ReLU input| on {len(images)} images: quartiles "
          + " / ".join(f"{q:.3f}" for q in quantiles.tolist()))

    print(f"top-k attack on {args.method}, {args.steps} steps, {len(images)} images; "
          "Spearman / top-k intersection")
    for beta in (float(b) for b in args.betas.split(",")):
        result = fg.attack(model, images, args.method, "top-k", steps=args.steps, beta=beta)
        print(f"beta {beta:g}: {result.metrics['spearman'].mean():.3f} / "
              f"{result.metrics['top_k_intersection'].mean():.3f}", flush=True)


if __name__ == "__main__":
    main()
