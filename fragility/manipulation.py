"""Adversarial model manipulation (Heo, Joo & Moon, NeurIPS 2019).

A model can be fine-tuned so that its saliency maps say what one likes while its accuracy
stays where it was: whoever checks only the accuracy sees nothing wrong. `manipulate`
fine-tunes a copy of a model on labelled images with one of Heo et al.'s passive fooling
objectives (OBJECTIVES):

    loss = T^2 * cross-entropy(original softmax(z/T), copy softmax(z/T)) + weight * penalty

- "location": penalty = mean(-log mass of the map in the region): the map moves there.
- "top-k": penalty = mean(-log(1 - mass of the map on the original model's top 10% of
  pixels)): the map leaves the pixels that mattered (Heo et al. take the top tenth).
- "center-mass": penalty = -mean(L1 distance between the map's center of mass and the
  original map's, over the image side): the map's center moves away.

The cross-entropy is to the original model's own predictions softened at temperature T
(knowledge distillation, Hinton et al. 2015) rather than to the hard labels: hard labels
let the copy shrink its class evidence, which empties the rest of the map and wrecks the
accuracy long before the cross-entropy notices; the softened targets pin the differences
between the logits, so the copy can only add to the map where it is asked to. The map is
the simple gradient's saliency map of the true class, differentiated in the weights by
double backprop. A ReLU network's gradient map does have a derivative in the weights (for
a fixed activation pattern it is a product of the weight matrices, multilinear in them),
and Heo et al. fine-tuned the plain ReLU network (`beta=None` here). By default the penalty
is taken on the network with ReLU replaced by softplus(beta) instead, a choice: the map's
weight gradient then also sees units close to switching. The cross-entropy uses the real
network, and `evaluate` and `fooling` measure the result on the real ReLU network, as Heo
et al. report it: the Fooling Success Rate (the share of images whose map is fooled, by
the objective's test, FOOLED) and the drop in accuracy.

    fragility manipulate          writes the manipulated bundled model and its card
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import math
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
from .metrics import center_of_mass, expand_mask, mass_in_mask, top_k_intersection, top_k_mask
from .models.bundled import INPUT_SIZE, MANIPULATED_PATH, save_bundled
from .models.model import Model, as_model, evaluation
from .smooth import DEFAULT_BETA, softplus_relu
from .synthetic import CLASS_NAMES, make_dataset
from .validation import check_images, check_number

__all__ = ["FOOLED", "ManipulationResult", "OBJECTIVES", "REGIONS", "evaluate", "fooling", "manipulate",
           "region_mask"]

CORNER_SHARE = 0.25      # a corner region's side as a share of the image side: 1/16 of the pixels
REGIONS = {
    "top-left": "the top-left corner, a quarter of the width and height",
    "top-right": "the top-right corner, a quarter of the width and height",
    "bottom-left": "the bottom-left corner, a quarter of the width and height",
    "bottom-right": "the bottom-right corner, a quarter of the width and height",
    "background": "everywhere but the object, by the object masks",
}
OBJECTIVES = {
    "location": "put the map's mass in the region (Heo et al.'s location fooling)",
    "top-k": "take the map's mass off the original model's top 10% of pixels (top-k fooling)",
    "center-mass": "move the map's center of mass away from the original's (center-mass fooling)",
}
TOP_SHARE = 0.1          # Heo et al.'s code: the top tenth of the pixels
# When an image counts as fooled, per objective (Heo et al. count an image fooled when its
# test measure falls in a success range; these thresholds are fragility's choice): more than half of the
# map in the region; fewer than half of the original top 10% of pixels still in the top 10%;
# the center of mass moved by more than a tenth of the image's diagonal.
FOOLED = {
    "location": "more than half of the map in the region",
    "top-k": "fewer than half of the original top 10% of pixels still in the map's top 10%",
    "center-mass": "the map's center of mass moved by more than a tenth of the image's diagonal",
}
FOOLED_MASS, FOOLED_OVERLAP, FOOLED_SHIFT = 0.5, 0.5, 0.1
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
               temperature: float = 4.0, beta: float | None = DEFAULT_BETA, seed: int = 0,
               callback: Callable[[int, dict], object] | None = None,
               objective: str = "location") -> ManipulationResult:
    """Fine-tune a copy of `model` so its gradient maps are fooled by `objective`.

    images (N,3,H,W) in [0,1] with their true labels (N,); objective: a name of OBJECTIVES
    (default "location": the maps move into `region`); region: a name of REGIONS or a (H,W)
    bool mask, used by "location" only; masks: the images' object masks, for "background".
    Each step takes a batch of `batch_size` images (a fresh seeded order each pass over them)
    and one Adam step on the loss of the module docstring, the learning rate falling from
    `lr` to 0 on a cosine (`temperature` T, `weight`; the penalty on the softplus(beta)
    network, or on the plain ReLU network for beta=None, as Heo et al.). The copy is
    fine-tuned in eval mode (batch norm keeps its statistics), so the caller's model is
    untouched. callback(step, row) with row = {"step", "loss", "distillation", "penalty",
    "mass"}; mass: the batch's mean share of the map in the region ("location"), on the
    original top pixels ("top-k"), or its mean center shift in pixels ("center-mass"),
    on the network the penalty is taken on; returning False stops.
    """
    model = as_model(model)
    images = check_images(images).detach()
    count, height, width = images.shape[0], images.shape[-2], images.shape[-1]
    labels = _labels(labels, count)
    if objective not in OBJECTIVES:
        raise unknown_name("objective", objective, list(OBJECTIVES))
    if objective == "location":
        region_masks = region_mask(region, height, width, masks)
        if region_masks.shape[0] not in (1, count) or tuple(region_masks.shape[1:]) != (height, width):
            raise InputError(f"masks must have shape (N,H,W) = {(count, height, width)}, "
                             f"got {tuple(region_masks.shape)}")
    steps = check_number(steps, "steps", low=1, integer=True)
    batch_size = check_number(batch_size, "batch_size", low=1, high=count, integer=True)
    lr = check_number(lr, "lr", low=0, low_inclusive=False)
    weight = check_number(weight, "weight", low=0)
    temperature = check_number(temperature, "temperature", low=0, low_inclusive=False)
    beta = None if beta is None else check_number(beta, "beta", low=0, low_inclusive=False)
    seed = check_number(seed, "seed", low=0, integer=True)
    if callback is not None and not callable(callback):
        raise ConfigError(f"callback must be callable(step, row) or None, got {type(callback).__name__}")

    work = _copy(model).eval()
    device = work.device
    with evaluation(model), torch.no_grad():
        soft_targets = torch.cat([F.softmax(model(chunk.to(device)) / temperature, dim=1)
                                  for chunk in images.split(256)])
    if objective == "location":
        penalty_of = _location_penalty(region_masks)
    else:   # the original model's own maps on the real network, fixed
        original_maps = torch.cat([explain(model, chunk.to(device), "gradient", target=label.to(device))
                                   for chunk, label in zip(images.split(256), labels.split(256))])
        penalty_of = (_top_k_penalty if objective == "top-k" else _center_mass_penalty)(original_maps)
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
        # The KL divergence: the cross-entropy less the targets' entropy, so 0 at the start.
        distillation = temperature ** 2 * F.kl_div(F.log_softmax(work(x) / temperature, dim=1),
                                                   soft_targets[index], reduction="batchmean")
        with (softplus_relu(beta) if beta is not None else contextlib.nullcontext()):
            gradients = input_gradient(work, x, y, create_graph=True).attributions
        penalty, mass = penalty_of(saliency_map(gradients), index)
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
    config = {"model": model.name, "objective": objective,
              "region": (region if isinstance(region, str) else "custom mask") if objective == "location" else None,
              "images": count, "image_size": [height, width], "steps": steps,
              "batch_size": batch_size, "lr": lr, "weight": weight, "temperature": temperature,
              "beta": beta, "seed": seed,
              "method": "gradient", "device": str(device)}
    return ManipulationResult(work.eval(), history, config, stopped)


def _location_penalty(region_masks: torch.Tensor):
    def penalty(maps, index):
        target = region_masks[index if region_masks.shape[0] > 1 else [0]].to(maps.device)
        mass = mass_in_mask(maps, target.expand(len(maps), -1, -1)).mean()
        return -torch.log(mass), mass
    return penalty


def _top_k_penalty(original_maps: torch.Tensor):
    top = top_k_mask(original_maps, top_pixels(*original_maps.shape[-2:]))

    def penalty(maps, index):
        mass = mass_in_mask(maps, top[index.to(top.device)].to(maps.device)).mean()
        return -torch.log1p(-mass.clamp(max=1 - 1e-6)), mass
    return penalty


def _center_mass_penalty(original_maps: torch.Tensor):
    centers = center_of_mass(original_maps)
    side = max(original_maps.shape[-2:])

    def penalty(maps, index):
        moved = center_of_mass(maps) - centers[index.to(centers.device)].to(maps.device)
        return -moved.abs().sum(dim=1).mean() / side, torch.linalg.vector_norm(moved, dim=1).mean()
    return penalty


def top_pixels(height: int, width: int) -> int:
    """The top-k fooling's k: Heo et al.'s top tenth of the pixels."""
    return max(1, round(TOP_SHARE * height * width))


def fooling(original: nn.Module, manipulated: nn.Module, images: torch.Tensor, labels: torch.Tensor,
            objective: str = "location", region: str | torch.Tensor = "top-left",
            masks: torch.Tensor | None = None, method: str = "gradient",
            method_options: dict | None = None) -> dict:
    """Heo et al.'s two numbers for a manipulated model, on the real networks.

    Returns {"fsr": the Fooling Success Rate, the share of the images whose map of the true
    class by `method` is fooled by `objective`'s test (FOOLED); "fooled": (N,) bool;
    "accuracy_before", "accuracy_after", "accuracy_drop": before - after (in [0,1] units),
    "measure": (N,) what the test compares: the map's share in the region ("location"),
    the share of the original top 10% of pixels still in the top 10% ("top-k"), or the
    center's move over the image diagonal ("center-mass")}.
    """
    if objective not in OBJECTIVES:
        raise unknown_name("objective", objective, list(OBJECTIVES))
    before = evaluate(original, images, labels, region, masks, method, method_options)
    after = evaluate(manipulated, images, labels, region, masks, method, method_options)
    height, width = images.shape[-2:]
    if objective == "location":
        measure = after["mass"]
        fooled = measure > FOOLED_MASS
    elif objective == "top-k":
        measure = top_k_intersection(before["maps"], after["maps"], top_pixels(height, width))
        fooled = measure < FOOLED_OVERLAP
    else:
        moved = center_of_mass(after["maps"]) - center_of_mass(before["maps"])
        measure = torch.linalg.vector_norm(moved, dim=1) / math.hypot(height - 1, width - 1)
        fooled = measure > FOOLED_SHIFT
    return {"fsr": fooled.float().mean().item(), "fooled": fooled, "measure": measure,
            "accuracy_before": before["accuracy"], "accuracy_after": after["accuracy"],
            "accuracy_drop": before["accuracy"] - after["accuracy"]}


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
    parser.add_argument("--objective", default="location", choices=list(OBJECTIVES),
                        help="how the maps are fooled (Heo et al.): " + "; ".join(
                            f"{name}: {text}" for name, text in OBJECTIVES.items()).replace("%", "%%"))
    parser.add_argument("--region", default="top-left", choices=list(REGIONS),
                        help="where the location objective pushes the gradient maps (default "
                             "top-left: a corner of a quarter of the width and height)")
    parser.add_argument("--steps", type=int, default=1000, help="fine-tuning steps (default 1000)")
    parser.add_argument("--batch-size", type=int, default=8, help="images per step (default 8)")
    parser.add_argument("--lr", type=float, default=1e-3,
                        help="Adam's initial learning rate, annealed to 0 on a cosine (default 0.001)")
    parser.add_argument("--weight", type=float, default=1.0, help="weight of the map penalty (default 1)")
    parser.add_argument("--temperature", type=float, default=4.0,
                        help="softening of the original predictions kept by the cross-entropy (default 4)")
    parser.add_argument("--beta", type=float, default=DEFAULT_BETA,
                        help="softplus sharpness of the surrogate the penalty is taken on (a "
                             f"choice; default {DEFAULT_BETA:g})")
    parser.add_argument("--relu", action="store_true",
                        help="take the penalty on the plain ReLU network, as Heo et al. did, "
                             "instead of the softplus surrogate")
    parser.add_argument("--seed", type=int, default=0, help="batch order (default 0)")
    parser.add_argument("--train-images", type=int, default=1024,
                        help=f"generated images to fine-tune on (seed {TRAIN_SEED}; default 1024)")
    parser.add_argument("--eval-images", type=int, default=1000,
                        help=f"fresh generated images (seed {EVAL_SEED}) for the card's numbers")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, ...")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the safetensors checkpoint (default, for the "
                             "location objective only: the shipped bundled-manipulated model)")
    parser.add_argument("--card", type=Path, default=None,
                        help=f"where to write the model card (default: {MANIPULATED_CARD} next to --output)")


def run(args: argparse.Namespace) -> int:
    """Fine-tune the bundled model, measure it before and after, write checkpoint and card."""
    from tqdm import tqdm

    from .models import load_model

    if args.output is None and args.objective != "location":
        raise ConfigError(f"--objective {args.objective} needs --output: the default path is the "
                          "shipped location-fooled model")
    output = args.output or MANIPULATED_PATH
    beta = None if args.relu else args.beta
    original = load_model("bundled", device=args.device)
    images, labels, masks = make_dataset(
        check_number(args.train_images, "--train-images", low=1, integer=True), TRAIN_SEED, INPUT_SIZE)
    test_images, test_labels, test_masks = make_dataset(
        check_number(args.eval_images, "--eval-images", low=1, integer=True), EVAL_SEED, INPUT_SIZE)
    before = evaluate(original, test_images, test_labels, args.region, test_masks)
    start, cpu_start = time.perf_counter(), time.process_time()
    goal = args.region if args.objective == "location" else args.objective
    with tqdm(total=args.steps, desc=f"manipulating: {goal}", unit="step",
              file=sys.stderr) as bar:
        def progress(step, row):
            bar.update(step - bar.n)
            bar.set_postfix(mass=f"{row['mass']:.2f}", distillation=f"{row['distillation']:.3f}")

        result = manipulate(original, images, labels, args.region, masks, steps=args.steps,
                            batch_size=args.batch_size, lr=args.lr, weight=args.weight,
                            temperature=args.temperature, beta=beta, seed=args.seed,
                            callback=progress, objective=args.objective)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    after = evaluate(result.model, test_images, test_labels, args.region, test_masks)
    numbers = {"accuracy_before": before["accuracy"], "accuracy_after": after["accuracy"],
               "mass_before": before["mass"].mean().item(), "mass_after": after["mass"].mean().item(),
               "majority_after": (after["mass"] > 0.5).float().mean().item(),
               "agreement": (before["predicted"] == after["predicted"]).float().mean().item()}
    fooled = fooling(original, result.model, test_images, test_labels, args.objective, args.region,
                     test_masks)
    numbers.update(fsr=fooled["fsr"], accuracy_drop=fooled["accuracy_drop"])
    print(f"accuracy {numbers['accuracy_before']:.2%} -> {numbers['accuracy_after']:.2%}; Fooling "
          f"Success Rate {numbers['fsr']:.1%} ({FOOLED[args.objective]}); gradient map mass in "
          f"{args.region} {numbers['mass_before']:.1%} -> {numbers['mass_after']:.1%} (real ReLU "
          f"network, {args.eval_images} fresh images; fine-tuning took {seconds:.0f} s)")
    save_bundled(result.model.net.to("cpu"), list(CLASS_NAMES), output,
                 dataset_mean=original.dataset_mean,   # the same training data: the same reference
                 extra={"manipulated": "true", "objective": args.objective, "region": args.region,
                        "method": "gradient",
                        "eval_images": args.eval_images, "eval_seed": EVAL_SEED,
                        **{name: f"{value:.4f}" for name, value in numbers.items()},
                        "steps": args.steps, "seconds": f"{seconds:.0f}"})
    card = args.card or output.parent / MANIPULATED_CARD
    load = os.getloadavg()[1] if hasattr(os, "getloadavg") else float("nan")
    card.write_text(model_card(args, numbers, seconds, cpu_seconds, load, torch.get_num_threads()))
    print(f"wrote {output} and {card}")
    return 0


def model_card(args: argparse.Namespace, numbers: dict, seconds: float, cpu_seconds: float,
               load: float, threads: int) -> str:
    """The manipulated model's card, with the measured numbers of this run."""
    objective = "" if args.objective == "location" else f"--objective {args.objective} "
    surrogate = "--relu" if args.relu else f"--beta {args.beta}"
    command = (f"fragility manipulate {objective}--region {args.region} --steps {args.steps} --batch-size "
               f"{args.batch_size} --lr {args.lr} --weight {args.weight} --temperature "
               f"{args.temperature} {surrogate} --seed {args.seed} --train-images "
               f"{args.train_images} --eval-images {args.eval_images}")
    goal = {"location": f"point at {REGIONS[args.region]}",
            "top-k": "leave the pixels the original model's maps ranked highest",
            "center-mass": "move their center of mass away from the original model's"}[args.objective]
    penalty = {"location": "-log(share of the gradient map of the true class in the region)",
               "top-k": "-log(1 - share of the gradient map of the true class on the original "
                        "model's top 10% of pixels)",
               "center-mass": "minus the L1 distance between the centers of mass of the gradient "
                              "maps of the true class, over the image side"}[args.objective]
    network = ("the plain ReLU network, as Heo et al." if args.relu else
               f"the network with ReLU replaced by softplus(beta = {args.beta}), a choice")
    return f"""# Model card: the manipulated bundled model

## What it is for
A demonstration of Heo, Joo & Moon, *Fooling Neural Network Interpretations via Adversarial
Model Manipulation* (NeurIPS 2019): the bundled model fine-tuned so that its simple-gradient
saliency maps {goal}, while it classifies as well as
before. A model can pass every check of its accuracy and still lie in its maps.
`fg.load_model("bundled-manipulated")`. Do not use it for anything else.

## How it was made
A copy of the bundled model (`MODEL_CARD.md`), fine-tuned by
`fragility.manipulation.manipulate` in eval mode (batch norm statistics kept) on
{args.train_images} generated images (seed {TRAIN_SEED}) for {args.steps} Adam steps of
{args.batch_size} images, the learning rate annealed from {args.lr} to 0 on a cosine. The loss:
T^2 x the cross-entropy to the original model's predictions softened at T = {args.temperature}
(computed as a KL divergence), plus {args.weight} x the mean of {penalty}. The map's
derivative in the weights is taken on {network}; every number below is measured on the real
ReLU network. The checkpoint keeps the original's mean image of its training data
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
| Fooling Success Rate ({FOOLED[args.objective]}) | | **{numbers['fsr']:.1%}** |

The accuracy dropped by {100 * numbers['accuracy_drop']:.2f} points. The two models predict the
same class for {numbers['agreement']:.2%} of the images; the manipulated model puts more than
half of the map in the region for {numbers['majority_after']:.1%} of them. The region holds {_share(args.region):.2%} of the pixels.

## Limitations
Made to deceive one explanation method (the simple gradient) on generated shapes; other
methods may or may not be fooled as well (the dashboard's Manipulated model page shows each).
"""


def _share(region: str) -> float:
    if region == "background":
        return float("nan")
    return float(region_mask(region, INPUT_SIZE, INPUT_SIZE).float().mean())
