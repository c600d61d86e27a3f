"""`fragility influence`: attack the influence-function explanation of one image.

Writes strip.png (the image and its most helpful and most harmful training images, before
and after the attack, with their scores) and result.json (the run's configuration, the
metrics beside the random-sign baseline, the listed training examples and the history),
and prints how much the damping sets the ranking (Spearman at lambda/10 and 10 lambda).
The Hessian is averaged over --hessian-images training images from the end of the
training run, separate from the --train images that are scored.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from .data import DEFAULT_HESSIAN_IMAGES
from .errors import ConfigError
from .influence import DEFAULT_DAMPING, DEFAULT_GAMMA, InfluenceResult, most_harmful, most_helpful
from .rendering import to_pil
from .smooth import DEFAULT_BETA

TILE = 96       # pixels per image tile (nearest-neighbour enlargement)
GAP = 10
CAPTION = 30    # two lines of text under each tile
HELPFUL_COLOUR, HARMFUL_COLOUR = (22, 128, 60), (190, 30, 45)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="bundled",
                        help="model whose training data is known (default and only choice: bundled)")
    parser.add_argument("--image", required=True, help="the test image")
    parser.add_argument("--train", type=int, default=200,
                        help="training images the scores cover: the first N the model was trained on (default 200)")
    parser.add_argument("--train-seed", type=int, default=None,
                        help="training seed of those images (default: the shipped checkpoint's, 0)")
    parser.add_argument("--epsilon", type=float, default=8.0, help="L-inf budget on the 0-255 scale (default 8)")
    parser.add_argument("--steps", type=int, default=50, help="attack iterations (default 50)")
    parser.add_argument("--step-size", type=float, default=1.0, help="step on the 0-255 scale (default 1)")
    parser.add_argument("--single-step", action="store_true",
                        help="the paper's attack: one signed step of size epsilon (sets --steps 1 and "
                             "--step-size to --epsilon; the default is the iterative version)")
    parser.add_argument("--hessian-images", type=int, default=DEFAULT_HESSIAN_IMAGES,
                        help="training images the Hessian is averaged over: the last N of the training "
                             f"run, none of them scored (default {DEFAULT_HESSIAN_IMAGES})")
    parser.add_argument("--k", type=int, default=5, help="most helpful training examples attacked (default 5)")
    parser.add_argument("--gamma", type=float, default=DEFAULT_GAMMA,
                        help="weight of the term that holds the predicted label (default 1)")
    parser.add_argument("--damping", type=float, default=DEFAULT_DAMPING,
                        help="damping added to the Hessian, as a fraction of its mean eigenvalue "
                             f"(default {DEFAULT_DAMPING:g})")
    parser.add_argument("--beta", type=float, default=DEFAULT_BETA, help="softplus sharpness of the surrogate")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the random-sign baseline (default 0)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA if available)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (created if needed)")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .data import hessian_sample, training_set
    from .images import load_image
    from .influence import influence_attack
    from .models import load_model

    if args.single_step:
        args.steps, args.step_size = 1, args.epsilon
    _check_disjoint(args.train, args.hessian_images)
    train_images, train_labels = training_set(args.model, n=args.train, seed=args.train_seed)
    hessian_images = hessian_sample(args.model, n=args.hessian_images, seed=args.train_seed)
    model = load_model(args.model, device=args.device)
    image = load_image(args.image, size=model.input_size)
    with tqdm(total=args.steps, desc="influence attack", unit="step", file=sys.stderr) as bar:
        def progress(step, row):
            if row["run"] == "random-sign" and step == 1:
                bar.reset()
                bar.set_description("random-sign baseline")
            bar.update(step - bar.n)
            bar.set_postfix(top_k=f"{row['top_k_intersection'][0]:.2f}", spearman=f"{row['spearman'][0]:.2f}")

        result = influence_attack(model, image.unsqueeze(0), train_images, train_labels,
                                  epsilon=args.epsilon / 255, steps=args.steps, step_size=args.step_size / 255,
                                  k=args.k, seed=args.seed, callback=progress, damping=args.damping,
                                  beta=args.beta, gamma=args.gamma, hessian_images=hessian_images)

    args.out.mkdir(parents=True, exist_ok=True)
    strip(model, image, train_images, train_labels, result).save(args.out / "strip.png")
    (args.out / "result.json").write_text(json.dumps(record(model, args, train_labels, result), indent=1))
    print(sensitivity_line(result))
    if not bool(result.found[0]):
        print(f"no label-keeping perturbation lowered the top-k influence in {result.steps_run} steps")
    print(f"wrote {args.out / 'strip.png'} and {args.out / 'result.json'}")
    return 0


def _check_disjoint(train: int, hessian: int) -> None:
    from .data import BUNDLED_BATCH_SIZE, BUNDLED_STEPS

    total = BUNDLED_STEPS * BUNDLED_BATCH_SIZE
    if train + hessian > total:
        raise ConfigError(f"--train {train} plus --hessian-images {hessian} exceed the {total:,} images "
                          "of the training run; the Hessian's images must be separate from the scored ones")


def sensitivity_line(result: InfluenceResult) -> str:
    """One line: how much lambda, not the data, sets the ranking of the scores."""
    config, sensitivity = result.config, result.damping_sensitivity
    return (f"damping lambda = {config['damping']:g} x mean eigenvalue of H = {config['damping_absolute']:.3g} "
            f"({config['eigenvalues_below_damping']:,} of {config['theta_size']:,} eigenvalues below it; "
            f"H from {config['hessian_images']:,} training images); Spearman of the scores at lambda/10: "
            f"{float(sensitivity['tenth'][0]):.2f}, at 10 lambda: {float(sensitivity['tenfold'][0]):.2f} "
            "(1 = the ranking does not depend on lambda)")


def listed(model, train_labels: torch.Tensor, scores: torch.Tensor, indices: torch.Tensor) -> list[dict]:
    return [{"train_index": int(i), "label": model.label_name(int(train_labels[i])), "score": float(scores[i])}
            for i in indices]


def record(model, args: argparse.Namespace, train_labels: torch.Tensor, result: InfluenceResult) -> dict:
    k = result.config["k"]
    before, after = result.original_scores[0].cpu(), result.perturbed_scores[0].cpu()
    baseline = result.baseline
    return {
        "image": str(args.image), "train_seed": args.train_seed, "config": result.config,
        "labels": {"original": model.label_name(int(result.labels[0])),
                   "perturbed": model.label_name(int(result.perturbed_labels[0]))},
        "found": bool(result.found[0]), "labels_kept": bool(result.labels_kept[0]), "steps_run": result.steps_run,
        "metrics": {name: value[0].item() for name, value in result.metrics.items()},
        "damping_sensitivity": {name: value[0].item() for name, value in result.damping_sensitivity.items()},
        "random_sign": {"found": bool(baseline.found[0]), "labels_kept": bool(baseline.labels_kept[0]),
                        "metrics": {name: value[0].item() for name, value in baseline.metrics.items()}},
        "most_helpful": {"before": listed(model, train_labels, before, most_helpful(before[None], k)[0]),
                         "after": listed(model, train_labels, after, most_helpful(after[None], k)[0])},
        "most_harmful": {"before": listed(model, train_labels, before, most_harmful(before[None], k)[0]),
                         "after": listed(model, train_labels, after, most_harmful(after[None], k)[0])},
        "history": result.history, "random_sign_history": baseline.history,
    }


def strip(model, image: torch.Tensor, train_images: torch.Tensor, train_labels: torch.Tensor,
          result: InfluenceResult) -> Image.Image:
    """Two rows, before and after: the test image, then its k most helpful and k most harmful
    training images, each captioned with its score; metrics against random sign on top."""
    k = result.config["k"]
    columns = 1 + 2 * k
    width = GAP + columns * (TILE + GAP) + GAP
    header, row_height = 50, TILE + CAPTION + GAP
    canvas = Image.new("RGB", (width, header + 2 * row_height + GAP), "white")
    draw = ImageDraw.Draw(canvas)
    draw.font = ImageFont.load_default(size=12)
    metrics, random = result.metrics, result.baseline.metrics
    found = bool(result.found[0])
    draw.text((GAP, 6), (f"top-{k} intersection {metrics['top_k_intersection'][0]:.2f} "
                         f"(random sign {random['top_k_intersection'][0]:.2f})   "
                         f"Spearman {metrics['spearman'][0]:.2f} (random sign {random['spearman'][0]:.2f})"
                         if found else f"no label-keeping perturbation found in {result.steps_run} steps"),
              fill="black")
    draw.text((GAP, 24), f"eps {result.config['epsilon'] * 255:g}/255, {result.steps_run} steps, "
                         f"{len(train_labels)} training images; green: most helpful, red: most harmful",
              fill="black")
    rows = (("original", image, result.original_scores[0], result.labels[0]),
            ("perturbed", result.perturbed[0], result.perturbed_scores[0], result.perturbed_labels[0]))
    for row, (name, picture, scores, label) in enumerate(rows):
        top = header + row * row_height
        scores = scores.cpu()
        _tile(canvas, draw, picture, GAP, top, f"{name}\n{model.label_name(int(label))}", (0, 0, 0))
        for column, (index, colour) in enumerate(
                [(i, HELPFUL_COLOUR) for i in most_helpful(scores[None], k)[0]]
                + [(i, HARMFUL_COLOUR) for i in most_harmful(scores[None], k)[0]], start=1):
            x = GAP + column * (TILE + GAP) + (GAP if column > k else 0)
            caption = f"#{int(index)} {model.label_name(int(train_labels[index]))}\n{float(scores[index]):+.3g}"
            _tile(canvas, draw, train_images[index], x, top, caption, colour)
    return canvas


def _tile(canvas: Image.Image, draw: ImageDraw.ImageDraw, picture: torch.Tensor, x: int, y: int,
          caption: str, colour: tuple[int, int, int]) -> None:
    canvas.paste(to_pil(picture, size=TILE), (x, y))
    draw.rectangle((x - 2, y - 2, x + TILE + 1, y + TILE + 1), outline=colour, width=2)
    for line, text in enumerate(caption.split("\n")):
        draw.text((x, y + TILE + 3 + 13 * line), text, fill=colour)
