"""`fragility data-randomization`: Adebayo et al.'s data randomisation test with its control.

Prints, per method, the mean similarity of the trained model's maps to the shuffled-label
model's and to the control model's (the same recipe as the shuffled model, true labels,
another seed), and the verdict: the shuffled model's maps are less like the trained
model's than the control's are, or not. --json writes the whole record.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from .errors import ConfigError
from .sanity import METRICS

VERDICT_METRIC = "spearman"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="bundled", help="the trained model (default: bundled)")
    parser.add_argument("--shuffled", default="bundled-shuffled",
                        help="the same architecture trained on shuffled labels (default: bundled-shuffled)")
    parser.add_argument("--control", default="bundled-control",
                        help="the same architecture trained by the shuffled model's recipe on the true "
                             "labels, another seed (default: bundled-control)")
    parser.add_argument("--image", action="append", default=None,
                        help="an image to explain (repeat for more; default: the synthetic samples)")
    parser.add_argument("--methods", default=None,
                        help="comma-separated method names (default: every method)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA if available)")
    parser.add_argument("--json", type=Path, default=None, help="also write the record to this file")


def run(args: argparse.Namespace) -> int:
    from .images import load_image
    from .models import load_model
    from .samples import samples
    from .sanity import data_randomization

    model = load_model(args.model, device=args.device)
    shuffled = load_model(args.shuffled, device=args.device)
    control = load_model(args.control, device=args.device)
    if args.image:
        images = torch.stack([load_image(path, size=model.input_size) for path in args.image])
    else:
        images = torch.stack([sample.load(model.input_size) for sample in samples("synthetic")])
    methods = None if args.methods is None else [name.strip() for name in args.methods.split(",")]
    if methods is not None and not all(methods):
        raise ConfigError(f"--methods must be comma-separated method names, got {args.methods!r}")

    def progress(index, row):
        print(f"  {row['method']} done", file=sys.stderr, flush=True)
    result = data_randomization(model, shuffled, images, methods=methods, control_model=control,
                                callback=progress)
    print(table(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"config": result.config, **result.summary()}, indent=1))
        print(f"wrote {args.json}")
    return 0


def table(result) -> str:
    """Markdown: per method and measure, mean similarity of the trained model's maps to the
    shuffled and to the control model's, and the verdict on the Spearman of the maps."""
    verdict = result.below_control(VERDICT_METRIC)
    gaps = result.control_gap(VERDICT_METRIC)
    header = ("| method | " + " | ".join(f"{name}: shuffled / control" for name in METRICS)
              + f" | {VERDICT_METRIC} gap, control - shuffled (± 2 SE) | shuffled below control |")
    lines = [f"{len(result.labels)} images; mean similarity of the trained model's maps to each model's",
             header, "|---" * (len(METRICS) + 3) + "|"]
    for method in result.methods:
        cells = [f"{float(result.metrics[method][name].nanmean()):.2f} / "
                 f"{float(result.control_metrics[method][name].nanmean()):.2f}" for name in METRICS]
        gap = gaps[method][~gaps[method].isnan()]
        spread = 2 * float(gap.std()) / len(gap) ** 0.5 if len(gap) > 1 else float("nan")
        lines.append(f"| {method} | " + " | ".join(cells)
                     + f" | {float(gap.mean()):+.2f} ± {spread:.2f} | {'yes' if verdict[method] else 'no'} |")
    return "\n".join(lines)
