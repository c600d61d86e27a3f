"""Command line: `fragility attack | sweep | report | influence | data-randomization |
manipulate | train-bundled | dashboard | bench`.

`fragility attack` writes the perturbed image, a side-by-side panel and a JSON record of
the run; every error the API raises on purpose becomes one line and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch
from PIL import Image

from . import cli_flags as flags
from . import cli_report as report
from . import influence_cli, manipulation, sanity_cli
from .errors import ConfigError, FragilityError
from .experiments import commands as experiment_commands

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fragility", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("attack", help="attack the interpretation of one image",
                              description="Attack an image's saliency map and write the results to "
                                          "--out: the perturbed image, a side-by-side panel and a JSON "
                                          "record, with the random-sign baseline of the same eps.")
    flags.add_attack_arguments(run)
    run.set_defaults(handler=attack_command)
    experiment_commands.add_parsers(commands)

    influence = commands.add_parser(
        "influence", help="attack the influence-function explanation of one image",
        description="Attack which training images an image's prediction is explained by (influence "
                    "functions) and write a strip image and a JSON record to --out.")
    influence_cli.add_arguments(influence)
    influence.set_defaults(handler=influence_cli.run)

    randomisation = commands.add_parser(
        "data-randomization", help="compare each method's maps on the trained, the shuffled-label "
                                   "and the control model (Adebayo et al.)",
        description="Adebayo et al.'s data randomisation test: each method's maps on the trained model "
                    "against the shuffled-label model's and the control model's; prints the table.")
    sanity_cli.add_arguments(randomisation)
    randomisation.set_defaults(handler=sanity_cli.run)

    manipulate = commands.add_parser(
        "manipulate", help="fine-tune a copy of the bundled model so its gradient maps point "
                           "at a chosen place while it keeps its accuracy (Heo et al.)",
        description="Fine-tune a copy of the bundled model so that its simple-gradient maps "
                    "point at --region while it keeps its accuracy (Heo et al., 2019); write "
                    "the checkpoint and a model card with the accuracy and the map's share in "
                    "the region before and after.")
    manipulation.add_arguments(manipulate)
    manipulate.set_defaults(handler=manipulation.run)

    for name, handler, text in (
            ("train-bundled", train_command, "train the bundled model (options: train-bundled --help)"),
            ("dashboard", dashboard_command, "start the dashboard (extra options go to streamlit)"),
            ("bench", bench_command, "run the benchmark scripts (extra options go to each script)")):
        sub = commands.add_parser(name, help=text, add_help=False)
        sub.add_argument("rest", nargs=argparse.REMAINDER)
        sub.set_defaults(handler=handler)
    return parser


# Subcommands whose options all pass through to another program's parser.
PASS_THROUGH = {"train-bundled": "train_command", "dashboard": "dashboard_command", "bench": "bench_command"}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fragility` console script; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in PASS_THROUGH:   # argparse would claim their --options as its own
        args = argparse.Namespace(command=argv[0], rest=argv[1:],
                                  handler=globals()[PASS_THROUGH[argv[0]]])
    else:
        args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except FragilityError as error:
        print(f"fragility: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def attack_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .attacks import attack
    from .images import load_image
    from .models import load_model

    out = flags.output_folder(args.out)
    if args.picture_width is not None:
        from .report_html import check_width
        check_width(args.picture_width)
    device = flags.device(args.device)
    request = flags.attack_request(args)            # flags checked in their own units
    model = load_model(args.model, device=device)
    image = load_image(args.image, size=model.input_size)
    arguments = flags.resolve_inputs(args, request, model, image)

    steps = arguments["steps"]
    baseline_steps = steps if args.attack != "random-sign" and not args.no_baseline else 0
    with tqdm(total=steps + baseline_steps, desc=f"{args.attack} on {args.method}", unit="step",
              file=sys.stderr) as bar:
        def progress(step, row):
            bar.update(1)
            bar.set_postfix(top_k=f"{row['top_k_intersection'][0]:.2f}", spearman=f"{row['spearman'][0]:.2f}")

        result = attack(model, image.unsqueeze(0), method=args.method, attack=args.attack,
                        callback=progress, **arguments)
        baseline = None
        if baseline_steps:
            bar.set_description(f"random-sign baseline on {args.method}")
            baseline = attack(model, image.unsqueeze(0), **flags.baseline_arguments(args.attack, args.method, arguments),
                              callback=progress)

    _to_pil(result.perturbed[0]).save(out / "perturbed.png")
    report.attack_panel(model, image, result, baseline).save(out / "panel.png")
    record = report.attack_record(args.image, model, result, baseline)
    (out / "result.json").write_text(json.dumps(record, indent=1))
    written = [out / "perturbed.png", out / "panel.png", out / "result.json"]
    if args.report is not None or args.picture_width is not None:
        written += _presentation(args, result, baseline, out)
    print(report.attack_summary(model, result, baseline))
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


def _presentation(args: argparse.Namespace, result, baseline, out: Path) -> list[Path]:
    """The --report page and the --picture-width pictures, with the CLI's baseline beside the run."""
    from .report_html import picture
    from .report_html import report as html_report

    if result.baseline is None:
        result.baseline = baseline
    written = []
    if args.report is not None:
        html_report(result, args.report)
        written.append(args.report)
    if args.picture_width is not None:
        for name, kind, form in (("panel-slide.png", "panel", "png"), ("history-slide.png", "history", "png"),
                                 ("history-slide.svg", "history", "svg")):
            (out / name).write_bytes(picture(result, kind, args.picture_width, form))
            written.append(out / name)
    return written


def train_command(args: argparse.Namespace) -> int:
    from . import training

    parser = argparse.ArgumentParser(prog="fragility train-bundled",
                                     description="Train the bundled model on the synthetic shapes.")
    training.add_arguments(parser)
    return training.run(parser.parse_args(args.rest))


def dashboard_command(args: argparse.Namespace) -> int:
    return dashboard_main(args.rest)


def dashboard_main(argv: list[str] | None = None) -> int:
    """Entry point of `fragility-dashboard`: `streamlit run dashboard/app.py` with the
    dashboard's settings (dashboard/.streamlit/config.toml) as flags, then the operator's
    own streamlit options, which win."""
    extra = sys.argv[1:] if argv is None else list(argv)
    try:
        from dashboard import settings
    except ImportError:
        settings = None
    if settings is None or not settings.APP.is_file():
        print("fragility: error: dashboard/app.py not found; install fragility with its dashboard",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        packaged = settings.flags(extra)
    except FragilityError as error:
        print(f"fragility: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    from streamlit.web import cli as streamlit_cli

    sys.argv = ["streamlit", "run", str(settings.APP), *packaged, *extra]
    try:
        return streamlit_cli.main()
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 0


def bench_command(args: argparse.Namespace) -> int:
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    scripts = sorted(folder.glob("bench_*.py"))
    if not scripts:
        raise ConfigError(f"no benchmark scripts in {folder}; run `fragility bench` from a source checkout")
    if {"-h", "--help"} & set(args.rest):
        print("usage: fragility bench [OPTIONS]\n\nRuns each benchmark script in turn, passing "
              "OPTIONS to every one, and stops at the first that fails. The scripts:\n"
              + "\n".join(f"  {script.name}" for script in scripts)
              + f"\n\nEach takes its own options: python {folder.name}/SCRIPT --help.")
        return 0
    for script in scripts:
        code = subprocess.call([sys.executable, str(script), *args.rest])
        if code:
            return code
    return 0


def _to_pil(image: torch.Tensor) -> Image.Image:
    array = (image.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).numpy())


if __name__ == "__main__":
    raise SystemExit(main())
