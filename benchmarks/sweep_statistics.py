"""How a sweep's curves move when runs that found nothing are left out and seeds are not
counted as images (not a test; prints one table).

A run that finds no label-keeping perturbation keeps the image's own numbers (Spearman 1,
top-k intersection 1). The earlier figures averaged every row, counted every seed as an
image and drew mean +- 1.96 standard errors; the figures now average the runs that found
one, the seeds of an image first, with a t band over the images (fragility.experiments.report).
Printed per attack and eps: the found share, both means, both band half-widths, and the
paired attack - random sign difference with its half-width.

    python benchmarks/sweep_statistics.py [--images 16] [--steps 30] [--seeds 0,1]
                                          [--epsilons 2,8,16,32] [--out out/sweep-statistics]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import fragility as fg
from fragility.experiments import report


def earlier(rows, metric: str):
    """The earlier statistics: every row, every seed an image, 1.96 standard errors."""
    grouped = rows.groupby(["attack", "epsilon_255"])[metric]
    table = grouped.agg(rows="count", mean="mean", std="std").reset_index()
    table["half"] = 1.96 * table["std"] / np.sqrt(table["rows"])
    return table.set_index(["attack", "epsilon_255"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--epsilons", default="2,8,16,32")
    parser.add_argument("--metric", default="spearman", choices=list(report.METRICS))
    parser.add_argument("--out", default="out/sweep-statistics", help="results folder (resumed)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = fg.sweep("bundled", f"synthetic:{args.images}", methods=["gradient"], attacks=["top-k", "random-sign"],
                    epsilons=[float(eps) / 255 for eps in args.epsilons.split(",")], steps=args.steps,
                    seeds=[int(seed) for seed in args.seeds.split(",")], out=args.out, figures=False,
                    device="cpu")
    before = earlier(rows, args.metric)
    now = report.aggregate(rows, args.metric).set_index(["attack", "epsilon_255"])
    paired = report.paired(rows, args.metric).set_index(["attack", "epsilon_255"])
    print(f"{args.metric}, gradient, bundled model, {args.images} images x seeds {args.seeds}, {args.steps} steps")
    for attack in ("top-k", "random-sign"):
        by_seed = rows[rows.attack == attack].pivot_table(index=["image_id", "epsilon_255"], columns="seed",
                                                          values=args.metric)
        same = by_seed.eq(by_seed.iloc[:, 0], axis=0).all(axis=1).mean()
        print(f"{attack}: every seed gives the same {args.metric} for {same:.0%} of image x eps")
    print(f"{'attack':12} {'eps':>4} {'found':>6} {'n/img':>6} {'all rows':>9} {'found only':>10} "
          f"{'±1.96 rows':>11} {'±t images':>10} {'attack-rs':>10} {'±paired':>8} {'pairs':>6}")
    for (attack, eps), point in now.iterrows():
        old = before.loc[(attack, eps)]
        difference = paired.loc[(attack, eps)] if (attack, eps) in paired.index else None
        gap = "" if difference is None else f"{difference['mean']:10.3f} {difference['high'] - difference['mean']:8.3f} {int(difference['n']):6d}"
        print(f"{attack:12} {eps:4g} {point['found']:6.0%} {int(point['n']):3d}/{int(point['images']):<2d} "
              f"{old['mean']:9.3f} {point['mean']:10.3f} {old['half']:11.3f} "
              f"{point['high'] - point['mean']:10.3f} {gap}")


if __name__ == "__main__":
    main()
