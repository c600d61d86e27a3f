"""Command line: `fragility attack | sweep | report | train-bundled | dashboard | bench`.

`fragility attack` writes the perturbed image, a side-by-side panel and a JSON record of
the run; every error the API raises on purpose becomes one line and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from .attacks import DEFAULT_GAMMA, attacks
from .errors import ConfigError, FragilityError
from .experiments import commands as experiment_commands
from .explainers import methods
from .smooth import DEFAULT_BETA

EXIT_USAGE = 2
TILE = 224   # panel tiles are drawn at least this large (nearest-neighbour upscaling)
# A perceptual dark-to-bright colour map (magma-like anchors) for saliency heatmaps.
HEAT = torch.tensor([[0, 0, 4], [80, 18, 123], [183, 55, 121], [252, 137, 97], [252, 253, 191]],
                    dtype=torch.float32) / 255


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fragility", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("attack", help="attack the interpretation of one image",
                              description="Attack an image's saliency map and write the results to --out.")
    run.add_argument("--model", default="bundled", help="model name or TorchScript file (default: bundled)")
    run.add_argument("--image", required=True, help="the image file to attack")
    run.add_argument("--method", default="gradient", choices=methods(), help="explanation method")
    run.add_argument("--attack", default="top-k", choices=attacks(), help="attack")
    run.add_argument("--epsilon", type=float, default=8.0, help="L-inf budget on the 0-255 scale (default 8)")
    run.add_argument("--steps", type=int, default=100, help="attack iterations (default 100)")
    run.add_argument("--step-size", type=float, default=1.0, help="step on the 0-255 scale (default 1)")
    run.add_argument("--k", type=int, default=100, help="top-k features (default 100)")
    run.add_argument("--beta", type=float, default=DEFAULT_BETA, help="softplus sharpness of the surrogate")
    run.add_argument("--gamma", type=float, default=DEFAULT_GAMMA, help="logit weight, target-map attack")
    run.add_argument("--region", type=float, nargs=4, metavar=("TOP", "LEFT", "BOTTOM", "RIGHT"),
                     help="targeted attack: the box to pull saliency into, as fractions of the image")
    run.add_argument("--target-map", help="target-map attack: a grayscale image of the desired map")
    run.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    run.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA if available)")
    run.add_argument("--out", required=True, type=Path, help="output folder (created if needed)")
    run.set_defaults(handler=attack_command)
    experiment_commands.add_parsers(commands)

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

    model = load_model(args.model, device=args.device)
    image = load_image(args.image, size=model.input_size)
    height, width = image.shape[-2:]
    extra = {}
    if args.region is not None:
        extra["region"] = _box_mask(args.region, height, width)
    if args.target_map is not None:
        extra["target_map"] = load_image(args.target_map, size=None).mean(dim=0)
        if tuple(extra["target_map"].shape) != (height, width):
            extra["target_map"] = _resize_map(extra["target_map"], height, width)

    with tqdm(total=args.steps, desc=f"{args.attack} on {args.method}", unit="step", file=sys.stderr) as bar:
        def progress(step, row):
            bar.update(step - bar.n)
            bar.set_postfix(top_k=f"{row['top_k_intersection'][0]:.2f}", spearman=f"{row['spearman'][0]:.2f}")

        result = attack(
            model, image.unsqueeze(0), method=args.method, attack=args.attack,
            epsilon=args.epsilon / 255, steps=args.steps, step_size=args.step_size / 255, k=args.k,
            beta=args.beta, gamma=args.gamma, seed=args.seed, callback=progress, **extra)

    args.out.mkdir(parents=True, exist_ok=True)
    _to_pil(result.perturbed[0]).save(args.out / "perturbed.png")
    _panel(model, image, result).save(args.out / "panel.png")
    record = {"image": str(args.image), "config": result.config,
              "labels": {"original": model.label_name(int(result.labels[0])),
                         "perturbed": model.label_name(int(result.perturbed_labels[0]))},
              "metrics": {name: value[0].item() for name, value in result.metrics.items()},
              "labels_kept": bool(result.labels_kept[0]), "steps_run": result.steps_run,
              "history": result.history}
    (args.out / "result.json").write_text(json.dumps(record, indent=1))
    print(f"wrote {args.out / 'perturbed.png'}, {args.out / 'panel.png'}, {args.out / 'result.json'}")
    return 0


def train_command(args: argparse.Namespace) -> int:
    from . import training

    parser = argparse.ArgumentParser(prog="fragility train-bundled",
                                     description="Train the bundled model on the synthetic shapes.")
    training.add_arguments(parser)
    return training.run(parser.parse_args(args.rest))


def dashboard_command(args: argparse.Namespace) -> int:
    return dashboard_main(args.rest)


def dashboard_main(argv: list[str] | None = None) -> int:
    """Entry point of `fragility-dashboard`: `streamlit run dashboard/app.py [streamlit options]`."""
    extra = sys.argv[1:] if argv is None else list(argv)
    spec = importlib.util.find_spec("dashboard")
    app = Path(spec.origin).parent / "app.py" if spec and spec.origin else None
    if app is None or not app.is_file():
        print("fragility: error: dashboard/app.py not found; install fragility with its dashboard",
              file=sys.stderr)
        return EXIT_USAGE
    from streamlit.web import cli as streamlit_cli

    # The repository's .streamlit/config.toml (127.0.0.1, upload cap, theme) applies from its root.
    os.chdir(app.parent.parent)
    sys.argv = ["streamlit", "run", str(app), *extra]
    try:
        return streamlit_cli.main()
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 0


def bench_command(args: argparse.Namespace) -> int:
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    scripts = sorted(folder.glob("bench_*.py"))
    if not scripts:
        raise ConfigError(f"no benchmark scripts in {folder}; run `fragility bench` from a source checkout")
    for script in scripts:
        code = subprocess.call([sys.executable, str(script), *args.rest])
        if code:
            return code
    return 0


def _box_mask(box: list[float], height: int, width: int) -> torch.Tensor:
    top, left, bottom, right = box
    if not (0 <= top < bottom <= 1 and 0 <= left < right <= 1):
        raise ConfigError(f"--region TOP LEFT BOTTOM RIGHT must be fractions with 0 <= top < bottom <= 1 "
                          f"and 0 <= left < right <= 1, got {box}")
    mask = torch.zeros(height, width, dtype=torch.bool)
    mask[int(top * height):max(int(bottom * height), int(top * height) + 1),
         int(left * width):max(int(right * width), int(left * width) + 1)] = True
    return mask


def _resize_map(values: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return torch.nn.functional.interpolate(values[None, None], size=(height, width), mode="bilinear",
                                           align_corners=False)[0, 0]


def _to_pil(image: torch.Tensor) -> Image.Image:
    array = (image.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).numpy())


def _heatmap(saliency: torch.Tensor) -> torch.Tensor:
    """(H,W) map -> (3,H,W) colours: each map scaled to its own peak, then the colour map."""
    values = saliency.detach().float().cpu()
    values = values / values.max().clamp_min(1e-12) * (len(HEAT) - 1)
    low = values.floor().long().clamp(max=len(HEAT) - 2)
    weight = (values - low).unsqueeze(-1)
    return (HEAT[low] * (1 - weight) + HEAT[low + 1] * weight).permute(2, 0, 1)


def _panel(model, image: torch.Tensor, result) -> Image.Image:
    """Original, perturbed, original map, perturbed map side by side, with titles and metrics."""
    original_label = model.label_name(int(result.labels[0]))
    perturbed_label = model.label_name(int(result.perturbed_labels[0]))
    tiles = [(image, f"original: {original_label}"),
             (result.perturbed[0], f"perturbed: {perturbed_label}"),
             (_heatmap(result.original_maps[0]), f"{result.config['method']} map"),
             (_heatmap(result.perturbed_maps[0]), f"after {result.config['attack']}")]
    height, width = image.shape[-2:]
    scale = max(1, -(-TILE // max(height, width)))
    tile_w, tile_h, title_h, footer_h, gap = width * scale, height * scale, 22, 40, 8
    canvas = Image.new("RGB", (len(tiles) * (tile_w + gap) + gap, title_h + tile_h + footer_h + gap), "white")
    draw = ImageDraw.Draw(canvas)
    for index, (tile, title) in enumerate(tiles):
        x = gap + index * (tile_w + gap)
        draw.text((x, 5), title, fill="black")
        canvas.paste(_to_pil(tile).resize((tile_w, tile_h), Image.NEAREST), (x, title_h))
    metrics = {name: value[0].item() for name, value in result.metrics.items()}
    config = result.config
    lines = [f"eps {config['epsilon'] * 255:g}/255, {result.steps_run} steps, k={config['k']}, "
             f"label {'kept' if bool(result.labels_kept[0]) else 'CHANGED'}",
             f"top-k intersection {metrics['top_k_intersection']:.3f}   spearman {metrics['spearman']:.3f}   "
             f"center shift {metrics['center_shift']:.2f} px   ssim {metrics['ssim']:.3f}"]
    for row, line in enumerate(lines):
        draw.text((gap, title_h + tile_h + 6 + 16 * row), line, fill="black")
    return canvas


if __name__ == "__main__":
    raise SystemExit(main())
