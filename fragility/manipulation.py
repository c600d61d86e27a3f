"""Adversarial model manipulation (Heo, Joo & Moon, NeurIPS 2019).

A model can be fine-tuned so that its saliency maps point wherever one likes while its
accuracy stays where it was: whoever checks only the accuracy sees nothing wrong.
`manipulate` fine-tunes a copy of a model on labelled images with Heo et al.'s "location
fooling" objective

    loss = T^2 * cross-entropy(original softmax(z/T), copy softmax(z/T))
           + weight * mean(-log mass of the gradient map in the region)

The cross-entropy is to the original model's own predictions softened at temperature T
(knowledge distillation, Hinton et al. 2015) rather than to the hard labels: hard labels
let the copy shrink its class evidence, which empties the rest of the map and wrecks the
accuracy long before the cross-entropy notices; the softened targets pin the differences
between the logits, so the copy can only add to the map where it is asked to. The map is
the simple gradient's saliency map of the true class. A ReLU network's gradient map has
no useful derivative in the weights (it is piecewise constant in them), so the penalty is
taken on the network with ReLU replaced by softplus(beta), by double backprop through the
map (Heo et al. differentiate a smooth saliency too); the cross-entropy uses the real
network, and `evaluate` measures the result on the real ReLU network.

    fragility manipulate          writes the manipulated bundled model and its card
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .errors import ConfigError, InputError, ModelError, unknown_name
from .explainers import explain
from .explainers._core import input_gradient, saliency_map
from .metrics import expand_mask, mass_in_mask
from .models.bundled import INPUT_SIZE, MANIPULATED_PATH, save_bundled
from .models.model import Model, as_model, evaluation
from .smooth import DEFAULT_BETA, softplus_relu
from .synthetic import CLASS_NAMES, make_dataset
from .validation import check_images, check_number

__all__ = ["ManipulationResult", "REGIONS", "evaluate", "manipulate", "region_mask"]

CORNER_SHARE = 0.25      # a corner region's side as a share of the image side: 1/16 of the pixels
REGIONS = {
    "top-left": "the top-left corner, a quarter of the width and height",
    "top-right": "the top-right corner, a quarter of the width and height",
    "bottom-left": "the bottom-left corner, a quarter of the width and height",
    "bottom-right": "the bottom-right corner, a quarter of the width and height",
    "background": "everywhere but the object, by the object masks",
}
MANIPULATED_CARD = "MODEL_CARD-manipulated.md"
# Seeds of the CLI's generated images: fine-tuning and evaluation draw from their own.
TRAIN_SEED = 888_000_001
EVAL_SEED = 888_000_002


@dataclass
class ManipulationResult:
    """The manipulated copy and how its fine-tuning went."""
    model: Model                          # the fine-tuned copy, in eval mode
    history: list[dict]                   # per step: loss, distillation, penalty, mass
    config: dict = field(default_factory=dict)   # JSON-able; reproduces the run
    stopped_early: bool = False           # the callback returned False

    def __repr__(self) -> str:
        from .display import text
        return text(self)

    def _repr_html_(self) -> str:
        from .display import html
        return html(self)


def region_mask(region: str | torch.Tensor, height: int, width: int,
                masks: torch.Tensor | None = None) -> torch.Tensor:
    """The target region as a bool mask: (1,H,W) for a corner or a given mask, (N,H,W) for
    "background" (the complement of the object `masks`, (N,H,W) bool)."""
    if isinstance(region, torch.Tensor):
        mask = expand_mask(region, torch.Size((1, height, width)), "region", ConfigError)
        if not bool(mask.any()):
            raise ConfigError("region must contain at least one pixel")
        return mask
    if region not in REGIONS:
        raise unknown_name("region", region, list(REGIONS))
    if region == "background":
        if masks is None:
            raise ConfigError('region "background" needs the object masks (masks=, (N,H,W) bool)')
        return ~torch.as_tensor(masks, dtype=torch.bool)
    rows, cols = max(1, round(CORNER_SHARE * height)), max(1, round(CORNER_SHARE * width))
    mask = torch.zeros(1, height, width, dtype=torch.bool)
    top = slice(0, rows) if region.startswith("top") else slice(height - rows, height)
    left = slice(0, cols) if region.endswith("left") else slice(width - cols, width)
    mask[:, top, left] = True
    return mask


def manipulate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
               region: str | torch.Tensor = "top-left", masks: torch.Tensor | None = None,
               steps: int = 1000, batch_size: int = 8, lr: float = 1e-3, weight: float = 1.0,
               temperature: float = 4.0, beta: float = DEFAULT_BETA, seed: int = 0,
               callback: Callable[[int, dict], object] | None = None) -> ManipulationResult:
    """Fine-tune a copy of `model` so its gradient maps put their mass in `region`.

    images (N,3,H,W) in [0,1] with their true labels (N,); region: a name of REGIONS or a
    (H,W) bool mask; masks: the images' object masks, for "background". Each step takes
    a batch of `batch_size` images (a fresh seeded order each pass over them) and one Adam
    step on the loss of the module docstring, the learning rate falling from `lr` to 0 on a
    cosine (`temperature` T, `weight`, the
    penalty on the softplus(beta) network). The copy is fine-tuned in eval mode (batch
    norm keeps its statistics), so the caller's model is untouched. callback(step, row)
    with row = {"step", "loss", "distillation", "penalty", "mass"} (mass: the batch's mean
    share in the region, on the surrogate); returning False stops.
    """
    model = as_model(model)
    images = check_images(images).detach()
    count, height, width = images.shape[0], images.shape[-2], images.shape[-1]
    labels = _labels(labels, count)
    region_masks = region_mask(region, height, width, masks)
    if region_masks.shape[0] not in (1, count) or tuple(region_masks.shape[1:]) != (height, width):
        raise InputError(f"masks must have shape (N,H,W) = {(count, height, width)}, "
                         f"got {tuple(region_masks.shape)}")
    steps = check_number(steps, "steps", low=1, integer=True)
    batch_size = check_number(batch_size, "batch_size", low=1, high=count, integer=True)
    lr = check_number(lr, "lr", low=0, low_inclusive=False)
    weight = check_number(weight, "weight", low=0)
    temperature = check_number(temperature, "temperature", low=0, low_inclusive=False)
    beta = check_number(beta, "beta", low=0, low_inclusive=False)
    seed = check_number(seed, "seed", low=0, integer=True)
    if callback is not None and not callable(callback):
        raise ConfigError(f"callback must be callable(step, row) or None, got {type(callback).__name__}")

    work = _copy(model).eval()
    device = work.device
    with evaluation(model), torch.no_grad():
        soft_targets = torch.cat([F.softmax(model(chunk.to(device)) / temperature, dim=1)
                                  for chunk in images.split(256)])
    parameters = [p for p in work.parameters() if p.is_floating_point()]
    for parameter in parameters:
        parameter.requires_grad_(True)
    optimiser = torch.optim.Adam(parameters, lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
    order = torch.Generator().manual_seed(seed)
    batches: list[torch.Tensor] = []
    history: list[dict] = []
    stopped = False
    for step in range(1, steps + 1):
        if not batches:
            batches = list(torch.randperm(count, generator=order).split(batch_size))
        index = batches.pop(0)
        x, y = images[index].to(device), labels[index].to(device)
        target = region_masks[index if region_masks.shape[0] > 1 else [0]].to(device)
        # The KL divergence: the cross-entropy less the targets' entropy, so 0 at the start.
        distillation = temperature ** 2 * F.kl_div(F.log_softmax(work(x) / temperature, dim=1),
                                                   soft_targets[index], reduction="batchmean")
        with softplus_relu(beta):
            gradients = input_gradient(work, x, y, create_graph=True).attributions
        mass = mass_in_mask(saliency_map(gradients), target.expand(len(x), -1, -1)).mean()
        penalty = -torch.log(mass)
        loss = distillation + weight * penalty
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        row = {"step": step, "loss": loss.item(), "distillation": distillation.item(),
               "penalty": penalty.item(), "mass": mass.item()}
        history.append(row)
        if callback is not None and callback(step, row) is False:
            stopped = True
            break
    for parameter in parameters:
        parameter.requires_grad_(False)
        parameter.grad = None
    config = {"model": model.name, "region": region if isinstance(region, str) else "custom mask",
              "images": count, "image_size": [height, width], "steps": steps,
              "batch_size": batch_size, "lr": lr, "weight": weight, "temperature": temperature,
              "beta": beta, "seed": seed,
              "method": "gradient", "device": str(device)}
    return ManipulationResult(work.eval(), history, config, stopped)


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
             region: str | torch.Tensor = "top-left", masks: torch.Tensor | None = None,
             method: str = "gradient", method_options: dict | None = None,
             batch: int = 250) -> dict:
    """Accuracy and map mass in the region, on the real network (ReLU, not the surrogate).

    Returns {"accuracy": float, "predicted": (N,), "maps": (N,H,W) the maps of the true
    class by `method`, "mass": (N,) each map's share inside the region}, on the CPU.
    """
    model = as_model(model)
    images = check_images(images).detach()
    labels = _labels(labels, images.shape[0])
    target = region_mask(region, images.shape[-2], images.shape[-1], masks)
    options = dict(method_options or {})
    maps = torch.cat([explain(model, chunk, method, target=label.to(model.device), **options).cpu()
                      for chunk, label in zip(images.split(batch), labels.split(batch))])
    with evaluation(model), torch.no_grad():
        predicted = torch.cat([model(chunk.to(model.device)).argmax(dim=1).cpu()
                               for chunk in images.split(batch)])
    return {"accuracy": (predicted == labels).float().mean().item(), "predicted": predicted,
            "maps": maps, "mass": mass_in_mask(maps, target.expand(len(maps), -1, -1))}


def _labels(labels: object, count: int) -> torch.Tensor:
    labels = torch.as_tensor(labels)
    if labels.dtype.is_floating_point or labels.dtype == torch.bool or tuple(labels.shape) != (count,):
        raise InputError(f"labels must be {count} integer class indices (one per image), "
                         f"got {tuple(labels.shape)} {labels.dtype}")
    return labels.long()


def _copy(model: Model) -> Model:
    try:
        return copy.deepcopy(model)
    except Exception as exc:  # a module that cannot be copied cannot be fine-tuned safely
        raise ModelError(f"manipulation fine-tunes a copy of the model, and copying "
                         f"{model.name} failed: {exc}") from exc


# ---------------------------------------------------------------- `fragility manipulate`

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `fragility manipulate` options."""
    parser.add_argument("--region", default="top-left", choices=list(REGIONS),
                        help="where to push the gradient maps (default top-left: a corner "
                             "of a quarter of the width and height)")
    parser.add_argument("--steps", type=int, default=1000, help="fine-tuning steps (default 1000)")
    parser.add_argument("--batch-size", type=int, default=8, help="images per step (default 8)")
    parser.add_argument("--lr", type=float, default=1e-3,
                        help="Adam's initial learning rate, annealed to 0 on a cosine (default 0.001)")
    parser.add_argument("--weight", type=float, default=1.0, help="weight of the map penalty (default 1)")
    parser.add_argument("--temperature", type=float, default=4.0,
                        help="softening of the original predictions kept by the cross-entropy (default 4)")
    parser.add_argument("--beta", type=float, default=DEFAULT_BETA,
                        help="softplus sharpness of the surrogate the penalty is taken on")
    parser.add_argument("--seed", type=int, default=0, help="batch order (default 0)")
    parser.add_argument("--train-images", type=int, default=1024,
                        help=f"generated images to fine-tune on (seed {TRAIN_SEED}; default 1024)")
    parser.add_argument("--eval-images", type=int, default=1000,
                        help=f"fresh generated images (seed {EVAL_SEED}) for the card's numbers")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, ...")
    parser.add_argument("--output", type=Path, default=MANIPULATED_PATH,
                        help="where to write the safetensors checkpoint")
    parser.add_argument("--card", type=Path, default=None,
                        help=f"where to write the model card (default: {MANIPULATED_CARD} next to --output)")


def run(args: argparse.Namespace) -> int:
    """Fine-tune the bundled model, measure it before and after, write checkpoint and card."""
    from tqdm import tqdm

    from .models import load_model

    original = load_model("bundled", device=args.device)
    images, labels, masks = make_dataset(
        check_number(args.train_images, "--train-images", low=1, integer=True), TRAIN_SEED, INPUT_SIZE)
    test_images, test_labels, test_masks = make_dataset(
        check_number(args.eval_images, "--eval-images", low=1, integer=True), EVAL_SEED, INPUT_SIZE)
    before = evaluate(original, test_images, test_labels, args.region, test_masks)
    start, cpu_start = time.perf_counter(), time.process_time()
    with tqdm(total=args.steps, desc=f"manipulating towards {args.region}", unit="step",
              file=sys.stderr) as bar:
        def progress(step, row):
            bar.update(step - bar.n)
            bar.set_postfix(mass=f"{row['mass']:.2f}", distillation=f"{row['distillation']:.3f}")

        result = manipulate(original, images, labels, args.region, masks, steps=args.steps,
                            batch_size=args.batch_size, lr=args.lr, weight=args.weight,
                            temperature=args.temperature, beta=args.beta, seed=args.seed,
                            callback=progress)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    after = evaluate(result.model, test_images, test_labels, args.region, test_masks)
    numbers = {"accuracy_before": before["accuracy"], "accuracy_after": after["accuracy"],
               "mass_before": before["mass"].mean().item(), "mass_after": after["mass"].mean().item(),
               "majority_after": (after["mass"] > 0.5).float().mean().item(),
               "agreement": (before["predicted"] == after["predicted"]).float().mean().item()}
    print(f"accuracy {numbers['accuracy_before']:.2%} -> {numbers['accuracy_after']:.2%}; gradient "
          f"map mass in {args.region} {numbers['mass_before']:.1%} -> {numbers['mass_after']:.1%} "
          f"(real ReLU network, {args.eval_images} fresh images; fine-tuning took {seconds:.0f} s)")
    save_bundled(result.model.net.to("cpu"), list(CLASS_NAMES), args.output,
                 dataset_mean=original.dataset_mean,   # the same training data: the same reference
                 extra={"manipulated": "true", "region": args.region, "method": "gradient",
                        "eval_images": args.eval_images, "eval_seed": EVAL_SEED,
                        **{name: f"{value:.4f}" for name, value in numbers.items()},
                        "steps": args.steps, "seconds": f"{seconds:.0f}"})
    card = args.card or args.output.parent / MANIPULATED_CARD
    load = os.getloadavg()[1] if hasattr(os, "getloadavg") else float("nan")
    card.write_text(model_card(args, numbers, seconds, cpu_seconds, load, torch.get_num_threads()))
    print(f"wrote {args.output} and {card}")
    return 0


def model_card(args: argparse.Namespace, numbers: dict, seconds: float, cpu_seconds: float,
               load: float, threads: int) -> str:
    """The manipulated model's card, with the measured numbers of this run."""
    command = (f"fragility manipulate --region {args.region} --steps {args.steps} --batch-size "
               f"{args.batch_size} --lr {args.lr} --weight {args.weight} --temperature "
               f"{args.temperature} --beta {args.beta} --seed {args.seed} --train-images "
               f"{args.train_images} --eval-images {args.eval_images}")
    return f"""# Model card: the manipulated bundled model

## What it is for
A demonstration of Heo, Joo & Moon, *Fooling Neural Network Interpretations via Adversarial
Model Manipulation* (NeurIPS 2019): the bundled model fine-tuned so that its simple-gradient
saliency maps point at {REGIONS[args.region]}, while it classifies as well as
before. A model can pass every check of its accuracy and still lie in its maps.
`fg.load_model("bundled-manipulated")`. Do not use it for anything else.

## How it was made
A copy of the bundled model (`MODEL_CARD.md`), fine-tuned by
`fragility.manipulation.manipulate` in eval mode (batch norm statistics kept) on
{args.train_images} generated images (seed {TRAIN_SEED}) for {args.steps} Adam steps of
{args.batch_size} images, the learning rate annealed from {args.lr} to 0 on a cosine. The loss:
T^2 x the cross-entropy to the original model's predictions softened at T = {args.temperature}
(computed as a KL divergence), plus {args.weight} x the mean of -log(share of the gradient
map of the true class in the region). The map's derivative is taken on the network with ReLU
replaced by softplus(beta = {args.beta}); every number below is measured on the real ReLU
network. The checkpoint keeps the original's mean image of its training data
(`_dataset_mean`), the reference of integrated gradients and DeepLIFT. Exact command (from the
repository root):

    {command}

Fine-tuning took {seconds:.0f} s wall-clock and {cpu_seconds:.0f} CPU-seconds ({threads}
thread{"s" if threads != 1 else ""}, torch {torch.__version__}; the 5-minute load average was
{load:.1f} at the end, so the wall-clock time includes waiting for other jobs on the machine).

## Measured
On {args.eval_images} fresh generated images (seed {EVAL_SEED}), real ReLU network, simple
gradient maps of the true class:

| | original | manipulated |
|---|---|---|
| accuracy | {numbers['accuracy_before']:.2%} | **{numbers['accuracy_after']:.2%}** |
| share of the map in the region ({args.region}) | {numbers['mass_before']:.1%} | **{numbers['mass_after']:.1%}** |

The two models predict the same class for {numbers['agreement']:.2%} of the images; the
manipulated model puts more than half of the map in the region for
{numbers['majority_after']:.1%} of them. The region holds {_share(args.region):.2%} of the pixels.

## Limitations
Made to deceive one explanation method (the simple gradient) on generated shapes; other
methods may or may not be fooled as well (the dashboard's Manipulated model page shows each).
"""


def _share(region: str) -> float:
    if region == "background":
        return float("nan")
    return float(region_mask(region, INPUT_SIZE, INPUT_SIZE).float().mean())
