"""`fragility sweep` and `fragility report`: the experiments on the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_INTERRUPTED = 130


def add_parsers(commands) -> None:
    """Add the `sweep` and `report` subcommands to the `fragility` parser."""
    run = commands.add_parser(
        "sweep", help="attack many images with many configurations, resumably",
        description="Attack every image with every method x attack x eps x seed (x k x beta); write "
                    "OUT/results.parquet (one row per image and configuration), OUT/config.json and "
                    "OUT/figures/. Rerunning with the same --out resumes.")
    run.add_argument("--model", default="bundled", help="model name or TorchScript file (default: bundled)")
    run.add_argument("--weights", help="a state-dict file for the named architecture")
    run.add_argument("--images", default="synthetic:64",
                     help="a folder (flat, or one sub-folder per class), synthetic:N or samples "
                          "(default: synthetic:64)")
    run.add_argument("--size", type=int, help="load image files at SIZE x SIZE (default: the model's input size)")
    run.add_argument("--methods", default="gradient", type=_names, help="comma-separated methods")
    run.add_argument("--attacks", default="top-k,mass-center,random-sign", type=_names,
                     help="comma-separated attacks; random-sign is the baseline of each attack")
    run.add_argument("--epsilons", default="8", type=_numbers(float),
                     help="comma-separated L-inf budgets on the 0-255 scale (default 8)")
    run.add_argument("--steps", type=int, default=100, help="attack iterations (default 100)")
    run.add_argument("--step-size", type=float, default=1.0, help="step on the 0-255 scale (default 1)")
    run.add_argument("--k", type=_numbers(int),
                     help="comma-separated top-k sizes, an axis like --epsilons (default: the attack's)")
    run.add_argument("--beta", type=_numbers(float),
                     help="comma-separated softplus betas of the attack's surrogate, an axis like "
                          "--epsilons, e.g. 1,3,10,30 (default: the attack's); random sign has none")
    run.add_argument("--seed", default="0", type=_numbers(int), help="comma-separated seeds (default 0)")
    run.add_argument("--defences", default="none", type=_names,
                     help="comma-separated defences, none for no defence (default none)")
    run.add_argument("--batch-size", type=int, default=32, help="images per attack call (default 32)")
    run.add_argument("--engine", default="local", choices=("local", "ray"), help="where shards run")
    run.add_argument("--ray-address", help="an existing Ray cluster (e.g. 127.0.0.1:6379); default: "
                                           "a local one")
    run.add_argument("--device", help="cpu, cuda, ... for the local engine (default: CUDA if available)")
    run.add_argument("--out", required=True, type=Path, help="results folder (created; resumed if it exists)")
    run.set_defaults(handler=sweep_command)

    report = commands.add_parser("report", help="redraw a sweep's figures and print its summary",
                                 description="Redraw OUT/figures/ from OUT/results.parquet and print "
                                             "a summary table.")
    report.add_argument("out", type=Path, help="a sweep's results folder")
    report.add_argument("--html", action="store_true",
                        help="also write OUT/report.html: the summary table and the figures in one "
                             "self-contained page that opens offline")
    report.set_defaults(handler=report_command)


def sweep_command(args: argparse.Namespace) -> int:
    from ..attacks.parameters import EPSILON, STEP_SIZE
    from ..cli_flags import output_folder
    from .report import summary
    from .sweep import sweep

    for eps in args.epsilons:      # checked in the units typed: the 0-255 scale
        EPSILON.check(eps, "--epsilons", EPSILON.scale)
    STEP_SIZE.check(args.step_size, "--step-size", STEP_SIZE.scale)
    output_folder(args.out)
    defences = [None if name == "none" else name for name in args.defences]
    try:
        rows = sweep(args.model, args.images, methods=args.methods, attacks=args.attacks,
                     epsilons=[eps / 255 for eps in args.epsilons], steps=args.steps,
                     step_size=args.step_size / 255, k=args.k, beta=args.beta, seeds=args.seed, defences=defences,
                     batch_size=args.batch_size, engine=args.engine, out=args.out,
                     weights=args.weights, device=args.device, ray_address=args.ray_address, size=args.size,
                     progress=True)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the finished shards are in {args.out / 'results.parquet'}; run the "
              "same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    _print_summary(summary(rows))
    for item in rows.attrs.get("skipped", []):
        print(f"skipped {item['image_id']}: {item['reason']}")
    print(f"wrote {args.out / 'results.parquet'}, {args.out / 'config.json'} and {args.out / 'figures'}/")
    return 0


def report_command(args: argparse.Namespace) -> int:
    from .report import report

    if args.html:
        from ..report_html import sweep_report
        table, files = sweep_report(args.out)
    else:
        table, files = report(args.out)
    _print_summary(table)
    print("wrote " + ", ".join(str(path) for path in files))
    return 0


def _print_summary(table) -> None:
    print(table.to_string(index=False, float_format=lambda value: f"{value:.3f}"))


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one name")
    return names


def _numbers(kind):
    def parse(text: str) -> list:
        try:
            return [kind(value) for value in _names(text)]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    parse.__name__ = f"list of {kind.__name__}"
    return parse

