"""How fragile LRP is on the bundled model, beside the other methods (not a test).

1. Compare-style ranking: every method under the same top-k attack and its random-sign
   baseline (best of as many draws as steps, picked by the same measure), ranked by the
   effect beyond chance, random sign's Spearman minus the attack's (mean over the images).
2. The targeted attack on LRP: the perturbed map's mass in the top-left quarter, against
   random sign picking its draws by that mass.
3. beta-smoothing (the `beta-smoothing` defence, default beta) on LRP, under the top-k
   attack, with the simple gradient for comparison.

Integrated gradients and SmoothGrad run with 10 path points / noisy copies to keep this
small (the attack's settings are the same for every method).

    python benchmarks/bench_lrp.py [--images 4] [--steps 50]
"""

from __future__ import annotations

import argparse
import time

import torch

import fragility as fg

CHEAP = {"integrated-gradients": {"steps": 10}, "smoothgrad": {"samples": 10}}
LRP = [name for name in fg.methods() if name.startswith("lrp-")]


def bundled_and_samples(count: int):
    model = fg.load_model("bundled", device="cpu")
    samples = fg.samples("synthetic")
    samples = samples[::max(1, len(samples) // count)][:count]
    return model, torch.stack([sample.load(size=model.input_size) for sample in samples])


def mean(result, metric: str) -> float:
    return float(result.metrics[metric].float().mean())


def run(model, images, method, steps, attack, **extra):
    """The attack and its random-sign baseline (the same measure picks the draws)."""
    started = time.perf_counter()
    arguments = {"method": method, "steps": steps, "method_options": CHEAP.get(method, {}), **extra}
    result = fg.attack(model, images, attack=attack, **arguments)
    baseline = fg.attack(model, images, attack="random-sign", criterion=attack, **arguments)
    return result, baseline, time.perf_counter() - started


def ranking(model, images, steps) -> None:
    rows = []
    for method in fg.methods():
        result, base, seconds = run(model, images, method, steps, attack="top-k")
        rows.append((mean(base, "spearman") - mean(result, "spearman"), method, result, base, seconds))
        print(f"  ... {method} ({seconds:.0f} s)", flush=True)
    print(f"\n| rank | method | beyond chance (Δ Spearman) | Spearman, attack | Spearman, random sign "
          f"| top-k ∩, attack | top-k ∩, random sign | labels kept |")
    print("|---|---|---|---|---|---|---|---|")
    for rank, (gap, method, result, base, _) in enumerate(sorted(rows, key=lambda row: -row[0]), 1):
        name = f"**{method}**" if method in LRP else method
        print(f"| {rank} | {name} | {gap:.3f} | {mean(result, 'spearman'):.3f} | {mean(base, 'spearman'):.3f} "
              f"| {mean(result, 'top_k_intersection'):.3f} | {mean(base, 'top_k_intersection'):.3f} "
              f"| {int(result.labels_kept.sum())}/{len(images)} |")


def targeted(model, images, steps) -> None:
    region = torch.zeros(images.shape[-2:], dtype=torch.bool)
    region[: region.shape[0] // 2, : region.shape[1] // 2] = True
    print("\n| method | mass in region, original | attack | random sign |")
    print("|---|---|---|---|")
    for method in [*LRP, "gradient"]:
        result, base, _ = run(model, images, method, steps, attack="targeted", region=region)
        inside = [float((maps * region).sum(dim=(1, 2)).mean())
                  for maps in (result.original_maps, result.perturbed_maps, base.perturbed_maps)]
        print(f"| {method} | {inside[0]:.3f} | {inside[1]:.3f} | {inside[2]:.3f} |", flush=True)


def smoothing(model, images, steps) -> None:
    beta = fg.get_defence("beta-smoothing").parameters[0].default
    print(f"\n| method | beyond chance, plain | beyond chance, β-smoothing (β={beta:g}) "
          "| Spearman of the smoothed map with the plain map |")
    print("|---|---|---|---|")
    for method in [*LRP, "gradient"]:
        plain, plain_base, _ = run(model, images, method, steps, attack="top-k")
        smooth, smooth_base, _ = run(model, images, method, steps, attack="top-k", defence="beta-smoothing")
        faithful = fg.metrics.spearman(smooth.original_maps, plain.original_maps).mean()
        print(f"| {method} | {mean(plain_base, 'spearman') - mean(plain, 'spearman'):.3f} "
              f"| {mean(smooth_base, 'spearman') - mean(smooth, 'spearman'):.3f} | {float(faithful):.3f} |",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, images = bundled_and_samples(args.images)
    print(f"bundled model, {len(images)} generated samples, ε 8/255, {args.steps} steps, step 1/255, "
          "k 2% of the pixels")
    ranking(model, images, args.steps)
    targeted(model, images, args.steps)
    smoothing(model, images, args.steps)


if __name__ == "__main__":
    main()
