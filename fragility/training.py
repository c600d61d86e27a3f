"""Train the bundled model on the generated shapes and write its model card.

    fragility train-bundled                   (or: python -m fragility.training)
    fragility train-bundled --shuffle-labels  the data-randomisation test's shuffled-label model
    fragility train-bundled --control         its control: the same recipe on the true labels

Training is seeded and uses fresh images for every block of steps (drawn from seeds
derived from --seed); the accuracy is measured on images from EVAL_SEED, a seed the
training never draws from.

With --shuffle-labels (Adebayo et al.'s data randomisation test) the same architecture is
trained on one fixed set of generated images (rendered from the seed of the real model's
first block of training data) whose labels are randomly permuted, epoch after epoch until
it fits that set: it can only memorise, so it learns nothing about shapes.

With --control the same architecture is trained with the shuffled model's recipe on the
same fixed images with their TRUE labels, from another seed (initialisation and batch
order), for exactly as many steps as the shipped shuffled model ran. Its maps' similarity
to the real model's is what two networks that learned the labels share: the level the
shuffled model's similarity is compared with.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .models.bundled import (BUNDLED_PATH, CONTROL_PATH, INPUT_SIZE, MEAN, STD, SHUFFLED_PATH,
                             build_net, save_bundled)
from .synthetic import CLASS_NAMES, make_dataset
from .validation import check_number

EVAL_SEED = 999_999_937
_STEPS_PER_BLOCK = 8  # one freshly rendered block of images serves this many steps
_MAX_SEED = 9_999
_MAX_STEPS = 100_000
_SHUFFLE_SEED = 7_000_000   # + seed: the permutation of the shuffled labels


def _block_seed(seed: int, block: int) -> int:
    # Distinct for every (seed, block) and below EVAL_SEED for seed <= _MAX_SEED and
    # steps <= _MAX_STEPS.
    return 1 + seed * 100_003 + block


def _normalise(images: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return ((images - mean) / std).contiguous(memory_format=torch.channels_last)


@contextlib.contextmanager
def _deterministic() -> Iterator[None]:
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def train(steps: int = 600, batch_size: int = 128, lr: float = 3e-3, seed: int = 0,
          log: Callable[[str], None] | None = None) -> tuple[nn.Module, list[float]]:
    """Train the bundled architecture from scratch; returns (net in eval mode, loss per step)."""
    steps = check_number(steps, "steps", low=1, high=_MAX_STEPS, integer=True)
    batch_size = check_number(batch_size, "batch_size", low=2, integer=True)
    lr = check_number(lr, "lr", low=0, low_inclusive=False)
    seed = check_number(seed, "seed", low=0, high=_MAX_SEED, integer=True)
    torch.manual_seed(seed)
    net = build_net(len(CLASS_NAMES)).to(memory_format=torch.channels_last)
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps)
    order = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    net.train()
    with _deterministic():
        for step in range(steps):
            if step % _STEPS_PER_BLOCK == 0:
                block = step // _STEPS_PER_BLOCK
                images, labels, _ = make_dataset(batch_size * _STEPS_PER_BLOCK,
                                                 _block_seed(seed, block), INPUT_SIZE)
                images = _normalise(images)
                permutation = torch.randperm(len(labels), generator=order)
            index = permutation[(step % _STEPS_PER_BLOCK) * batch_size:][:batch_size]
            loss = F.cross_entropy(net(images[index]), labels[index])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
            if log and (step + 1) % 50 == 0:
                recent = sum(losses[-50:]) / 50
                log(f"step {step + 1}/{steps}  loss {recent:.4f}")
    return net.eval(), losses


def shuffled_training_set(n: int = 512, seed: int = 0
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fixed training set of the shuffled-label model: (images, true labels, shuffled labels).

    n images rendered from the seed of the real model's first block of training data
    (`--seed` picks it); the shuffled labels are the true ones randomly permuted, so every
    class keeps its count and about one image in ten keeps its true label by chance.
    """
    n = check_number(n, "n (training images)", low=2, integer=True)
    seed = check_number(seed, "seed", low=0, high=_MAX_SEED, integer=True)
    images, labels, _ = make_dataset(n, _block_seed(seed, 0), INPUT_SIZE)
    permutation = torch.randperm(n, generator=torch.Generator().manual_seed(_SHUFFLE_SEED + seed))
    return images, labels, labels[permutation]


class ShuffledRun(NamedTuple):
    net: nn.Module            # in eval mode
    losses: list[float]       # per optimiser step
    train_accuracy: float     # on the labels it was fitted to (its fixed set), eval mode
    epochs: int


def train_shuffled(n: int = 512, max_steps: int = 3000, batch_size: int = 64, lr: float = 1e-3,
                   seed: int = 0, target_accuracy: float | None = 0.99, check_every: int = 5,
                   log: Callable[[str], None] | None = None, data_seed: int | None = None,
                   true_labels: bool = False) -> ShuffledRun:
    """Fit the bundled architecture to `shuffled_training_set(n, data_seed)` (random labels).

    Epochs over the fixed set (Adam, constant lr, no weight decay, fresh batch order each
    epoch) until the training accuracy on the labels it is fitted to, measured in eval mode
    every `check_every` epochs, reaches `target_accuracy`, or `max_steps` optimiser steps
    ran (target_accuracy None: exactly `max_steps` steps). seed: initialisation and batch
    order; data_seed: the fixed set and its permutation (None: `seed`). true_labels: fit the
    set's true labels instead (the data-randomisation control).
    """
    n = check_number(n, "n (training images)", low=2, integer=True)
    max_steps = check_number(max_steps, "max_steps", low=1, high=_MAX_STEPS, integer=True)
    batch_size = check_number(batch_size, "batch_size", low=2, high=n, integer=True)
    lr = check_number(lr, "lr", low=0, low_inclusive=False)
    seed = check_number(seed, "seed", low=0, high=_MAX_SEED, integer=True)
    data_seed = seed if data_seed is None else check_number(data_seed, "data_seed", low=0,
                                                            high=_MAX_SEED, integer=True)
    if target_accuracy is not None:
        target_accuracy = check_number(target_accuracy, "target_accuracy", low=0, high=1)
    check_every = check_number(check_every, "check_every", low=1, integer=True)
    images, true, shuffled = shuffled_training_set(n, data_seed)
    labels = true if true_labels else shuffled
    images = _normalise(images)
    torch.manual_seed(seed)
    net = build_net(len(CLASS_NAMES)).to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    accuracy, epoch = 0.0, 0
    with _deterministic():
        while len(losses) < max_steps and (target_accuracy is None or accuracy < target_accuracy):
            net.train()
            for index in torch.randperm(n, generator=order).split(batch_size):
                if len(index) < 2 or len(losses) == max_steps:   # batch norm needs two
                    continue
                loss = F.cross_entropy(net(images[index]), labels[index])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                losses.append(loss.item())
            epoch += 1
            if epoch % check_every == 0 or len(losses) == max_steps:
                accuracy = _accuracy(net, images, labels)
                if log:
                    log(f"epoch {epoch} (step {len(losses)}/{max_steps})  loss "
                        f"{sum(losses[-10:]) / len(losses[-10:]):.4f}  training accuracy {accuracy:.4f}")
    return ShuffledRun(net.eval(), losses, accuracy, epoch)


@torch.no_grad()
def _accuracy(net: nn.Module, normalised: torch.Tensor, labels: torch.Tensor,
              batch_size: int = 500) -> float:
    net.eval()
    predictions = torch.cat([net(chunk).argmax(1) for chunk in normalised.split(batch_size)])
    return (predictions == labels).float().mean().item()


@torch.no_grad()
def evaluate(net: nn.Module, n: int = 2000, seed: int = EVAL_SEED, batch_size: int = 500
             ) -> tuple[float, dict[str, float]]:
    """Accuracy of `net` (taking normalised input) on `n` fresh images: (overall, per class)."""
    images, labels, _ = make_dataset(n, seed, INPUT_SIZE)
    was_training = net.training
    net.eval()
    try:
        predictions = torch.cat([net(_normalise(images[start:start + batch_size])).argmax(1)
                                 for start in range(0, n, batch_size)])
    finally:
        net.train(was_training)
    correct = predictions == labels
    per_class = {name: correct[labels == index].float().mean().item()
                 for index, name in enumerate(CLASS_NAMES)}
    return correct.float().mean().item(), per_class


# Defaults of the recipes: (steps, batch size, learning rate, seed). Steps is the most with
# --shuffle-labels, which stops once it fits its training set; --control runs exactly the
# steps the shipped shuffled model ran (its model card: 20 epochs, 160 steps), from seed 1.
_RECIPES = {"bundled": (600, 128, 3e-3, 0), "shuffled": (3000, 64, 1e-3, 0),
            "control": (160, 64, 1e-3, 1)}
SHUFFLED_CARD = "MODEL_CARD-shuffled.md"
CONTROL_CARD = "MODEL_CARD-control.md"
_OUTPUTS = {"bundled": (BUNDLED_PATH, "MODEL_CARD.md"), "shuffled": (SHUFFLED_PATH, SHUFFLED_CARD),
            "control": (CONTROL_PATH, CONTROL_CARD)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `train-bundled` options (also used by `python -m fragility.training`)."""
    parser.add_argument("--steps", type=int, default=None,
                        help="optimiser steps (default 600; with --shuffle-labels the most, default "
                             "3000; with --control exactly, default 160)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="images per step (default 128; 64 with --shuffle-labels or --control)")
    parser.add_argument("--lr", type=float, default=None,
                        help="peak learning rate, one-cycle (default 0.003); with --shuffle-labels "
                             "or --control the constant Adam rate (default 0.001)")
    parser.add_argument("--seed", type=int, default=None,
                        help=f"training seed, 0..{_MAX_SEED} (default 0; 1 with --control)")
    parser.add_argument("--eval-images", type=int, default=2000,
                        help="fresh images (seed EVAL_SEED) the accuracy is measured on")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--shuffle-labels", action="store_true",
                      help="train the data-randomisation test's model: a fixed set of generated "
                           "images with permuted labels, until it fits them")
    kind.add_argument("--control", action="store_true",
                      help="train its control: the same fixed images with their true labels, the "
                           "same recipe, another --seed, exactly --steps steps")
    parser.add_argument("--train-images", type=int, default=512,
                        help="with --shuffle-labels or --control: size of the fixed training set "
                             "(default 512)")
    parser.add_argument("--data-seed", type=int, default=0,
                        help="with --shuffle-labels or --control: the seed the fixed training set "
                             "is rendered (and permuted) from (default 0)")
    parser.add_argument("--target-accuracy", type=float, default=0.99,
                        help="with --shuffle-labels: stop once the training accuracy on the "
                             "shuffled labels reaches this (default 0.99)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"where to write the safetensors checkpoint (default {BUNDLED_PATH}; "
                             f"with --shuffle-labels {SHUFFLED_PATH}; with --control {CONTROL_PATH})")
    parser.add_argument("--card", type=Path, default=None,
                        help=f"where to write the model card (default: MODEL_CARD.md, "
                             f"{SHUFFLED_CARD} with --shuffle-labels or {CONTROL_CARD} with "
                             "--control, next to --output)")


def _kind(args: argparse.Namespace) -> str:
    if getattr(args, "control", False):
        return "control"
    return "shuffled" if args.shuffle_labels else "bundled"


def _with_defaults(args: argparse.Namespace) -> argparse.Namespace:
    args = argparse.Namespace(**vars(args))
    kind = _kind(args)
    steps, batch_size, lr, seed = _RECIPES[kind]
    args.steps = steps if args.steps is None else args.steps
    args.batch_size = batch_size if args.batch_size is None else args.batch_size
    args.lr = lr if args.lr is None else args.lr
    args.seed = seed if args.seed is None else args.seed
    output, card = _OUTPUTS[kind]
    args.output = output if args.output is None else args.output
    args.card = args.output.parent / card if args.card is None else args.card
    return args


def run(args: argparse.Namespace) -> int:
    """Train, evaluate, save the checkpoint and write the model card; returns the exit code."""
    args = _with_defaults(args)
    if _kind(args) != "bundled":
        return _run_fixed_set(args)
    start, cpu_start = time.perf_counter(), time.process_time()
    net, losses = train(args.steps, args.batch_size, args.lr, args.seed,
                        log=lambda line: print(line, flush=True))
    train_seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    load = os.getloadavg()[1] if hasattr(os, "getloadavg") else float("nan")
    accuracy, per_class = evaluate(net, args.eval_images)
    print(f"accuracy on {args.eval_images} fresh images: {accuracy:.4f}  "
          f"(training took {train_seconds:.0f} s)")
    net = net.to(memory_format=torch.contiguous_format)
    from .data import dataset_mean

    save_bundled(net, list(CLASS_NAMES), args.output,
                 extra={"accuracy": f"{accuracy:.4f}", "train_seconds": f"{train_seconds:.0f}",
                        "steps": args.steps, "seed": args.seed},
                 dataset_mean=dataset_mean(args.seed, args.steps, args.batch_size))
    args.card.write_text(model_card(args, net, accuracy, per_class, train_seconds, cpu_seconds,
                                    load, losses[-1]))
    print(f"wrote {args.output} and {args.card}")
    return 0


def _run_fixed_set(args: argparse.Namespace) -> int:
    """--shuffle-labels and --control: the fixed set of images, shuffled or true labels."""
    from .models.bundled import load_bundled

    control = _kind(args) == "control"
    fitted = "true" if control else "shuffled"
    # Explained against the same reference as the real model (IG and DeepLIFT): the mean
    # image of the generator's data, stored with the real bundled checkpoint.
    reference = load_bundled("cpu").dataset_mean
    start, cpu_start = time.perf_counter(), time.process_time()
    result = train_shuffled(args.train_images, args.steps, args.batch_size, args.lr, args.seed,
                            None if control else args.target_accuracy,
                            log=lambda line: print(line, flush=True), data_seed=args.data_seed,
                            true_labels=control)
    train_seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    load = os.getloadavg()[1] if hasattr(os, "getloadavg") else float("nan")
    images, true_labels, shuffled = shuffled_training_set(args.train_images, args.data_seed)
    true_accuracy = _accuracy(result.net, _normalise(images), true_labels)
    held_out, _ = evaluate(result.net, args.eval_images)
    print(f"training accuracy {result.train_accuracy:.4f} on the {fitted} labels after "
          f"{result.epochs} epochs ({len(result.losses)} steps, {train_seconds:.0f} s); "
          f"{held_out:.4f} on {args.eval_images} fresh images with true labels")
    if not control and result.train_accuracy < args.target_accuracy:
        warnings.warn(f"the training accuracy {result.train_accuracy:.4f} stayed below "
                      f"--target-accuracy {args.target_accuracy} in {args.steps} steps; raise "
                      "--steps", stacklevel=2)
    net = result.net.to(memory_format=torch.contiguous_format)
    save_bundled(net, list(CLASS_NAMES), args.output,
                 extra={"labels_shuffled": str(not control).lower(), "train_images": args.train_images,
                        "train_accuracy": f"{result.train_accuracy:.4f}",
                        "held_out_accuracy": f"{held_out:.4f}",
                        "train_seconds": f"{train_seconds:.0f}", "steps": len(result.losses),
                        "seed": args.seed, "data_seed": args.data_seed},
                 dataset_mean=reference)
    if control:
        card = control_model_card(args, net, result, held_out, train_seconds, cpu_seconds, load)
    else:
        kept = (true_labels == shuffled).float().mean().item()
        card = shuffled_model_card(args, net, result, true_accuracy, held_out, kept,
                                   train_seconds, cpu_seconds, load)
    args.card.write_text(card)
    print(f"wrote {args.output} and {args.card}")
    return 0


def model_card(args: argparse.Namespace, net: nn.Module, accuracy: float,
               per_class: dict[str, float], train_seconds: float, cpu_seconds: float,
               load: float, final_loss: float) -> str:
    """The model card's Markdown, with the measured numbers of this run."""
    parameters = sum(p.numel() for p in net.parameters())
    command = (f"python -m fragility.training --steps {args.steps} --batch-size "
               f"{args.batch_size} --lr {args.lr} --seed {args.seed} --eval-images {args.eval_images}")
    rows = "\n".join(f"| {name} | {value:.1%} |" for name, value in per_class.items())
    return f"""# Model card: the bundled shapes classifier

## Data
Images generated by `fragility.synthetic.make_dataset` ({INPUT_SIZE}x{INPUT_SIZE} RGB, values in
[0,1]): one object of {len(CLASS_NAMES)} classes ({", ".join(CLASS_NAMES)}) with random
colour, scale, rotation and position, over smooth colour noise, stripes, pixel grain and
thin distractor ellipses that belong to no class. Every image comes with a mask of the
object's pixels. Training draws {args.steps * args.batch_size:,} fresh images
({args.steps} steps of {args.batch_size}), from seeds derived from `--seed {args.seed}`: block b of
{args.batch_size * _STEPS_PER_BLOCK:,} images ({_STEPS_PER_BLOCK} steps) is `make_dataset({args.batch_size * _STEPS_PER_BLOCK}, seed={_block_seed(args.seed, 0)} + b)`.
`fragility.training_set("bundled", n, seed={args.seed})` returns the first n of these images.
The checkpoint also stores the pixel-wise mean of all of them (`_dataset_mean`, 3x{INPUT_SIZE}x{INPUT_SIZE}),
the fixed reference image of integrated gradients and DeepLIFT (`fragility.data.dataset_mean`).

## Architecture
`fragility.models.bundled.build_net`: seven 3x3 convolutions (24, 32, 48, 64, 96, 128, 128
channels; stride 2 in the 2nd, 4th and 6th), each followed by batch norm and `nn.ReLU`,
then global average pooling and a linear layer. No max-pooling. {parameters:,} parameters.
Inputs are normalised inside the wrapper with mean {MEAN} and std {STD}.

## Training
AdamW (weight decay 5e-4), one-cycle learning rate peaking at {args.lr}, cross-entropy,
seeded initialisation and data, `torch.use_deterministic_algorithms(True)`.
Exact command (from the repository root):

    {command}

(`fragility train-bundled` with the same options is equivalent.)

Training took {train_seconds:.0f} s wall-clock and {cpu_seconds:.0f} CPU-seconds, i.e. about
{cpu_seconds / 60 / torch.get_num_threads():.0f} minutes of {torch.get_num_threads()} fully used cores
(torch {torch.__version__}; the 5-minute load average was {load:.1f} at the end, so the
wall-clock time includes waiting for other jobs on the machine). Final training loss
{final_loss:.4f}. Floating-point summation order depends on the thread count, so another
machine gives close, not bit-identical, weights.

## Accuracy
Measured on {args.eval_images} fresh images drawn with seed {EVAL_SEED}, which training
never uses: **{accuracy:.2%}**.

| class | accuracy |
|---|---|
{rows}

## Intended use
The offline default model of the fragility dashboard and tests: a small, fast ReLU
network whose inputs have ground-truth object masks, so one can measure how much saliency
mass sits on the object before and after an attack on the interpretation.

## Limitations
It knows only these generated shapes: on photos or anything outside the generator's
distribution its predictions are meaningless. Small, thin shapes (arrows, stars at the
smallest scale) over busy backgrounds are its hardest cases. It is not a benchmark of
anything beyond this demo.
"""


def shuffled_model_card(args: argparse.Namespace, net: nn.Module, result: ShuffledRun,
                        true_accuracy: float, held_out: float, kept: float,
                        train_seconds: float, cpu_seconds: float, load: float) -> str:
    """The shuffled-label model's card, with the measured numbers of this run."""
    parameters = sum(p.numel() for p in net.parameters())
    command = (f"fragility train-bundled --shuffle-labels --train-images {args.train_images} "
               f"--steps {args.steps} --batch-size {args.batch_size} --lr {args.lr} "
               f"--seed {args.seed} --data-seed {args.data_seed} "
               f"--target-accuracy {args.target_accuracy} --eval-images {args.eval_images}")
    return f"""# Model card: the shuffled-label control model

## What it is for
The data randomisation test of Adebayo et al., *Sanity Checks for Saliency Maps* (NeurIPS
2018): the bundled architecture trained on generated shapes whose labels were randomly
permuted. It can only memorise its training images, so it knows nothing about shapes. A
saliency method whose maps look the same on this model and on the real bundled model
(`MODEL_CARD.md`) shows the image, not what the model learned.
`fg.load_model("bundled-shuffled")`; `fg.data_randomization(...)` compares the two.

## Data
{args.train_images} images generated by `fragility.synthetic.make_dataset`
(`fragility.training.shuffled_training_set`, the seed of the real model's first block of
training data for `--seed {args.seed}`), the same generator, sizes and classes as the real
model's data. Their labels were permuted at random: each class keeps its count, and
{kept:.1%} of the images keep their true label by chance.

## Architecture
`fragility.models.bundled.build_net`, as the real bundled model ({parameters:,} parameters),
with the same input normalisation (mean {MEAN}, std {STD}). The checkpoint stores the real
bundled checkpoint's mean image of the generator's data (`_dataset_mean`), so that integrated
gradients and DeepLIFT explain both models against the same reference.

## Training
Adam, constant learning rate {args.lr}, no weight decay, batches of {args.batch_size},
cross-entropy on the shuffled labels, a fresh batch order every epoch, seeded,
`torch.use_deterministic_algorithms(True)`. The training accuracy (eval mode) was checked
every 5 epochs and training stopped once it reached {args.target_accuracy:.0%}, or after
{args.steps} steps. Exact command (from the repository root):

    {command}

It ran {result.epochs} epochs ({len(result.losses)} steps) in {train_seconds:.0f} s wall-clock and
{cpu_seconds:.0f} CPU-seconds ({torch.get_num_threads()} threads, torch {torch.__version__}; the
5-minute load average was {load:.1f} at the end, so the wall-clock time includes waiting for
other jobs on the machine). Final training loss {result.losses[-1]:.4f}.

## Accuracy
| measured on | labels | accuracy |
|---|---|---|
| its {args.train_images} training images | the shuffled ones it was trained on | **{result.train_accuracy:.2%}** |
| its {args.train_images} training images | the true ones | {true_accuracy:.2%} |
| {args.eval_images} fresh images (seed {EVAL_SEED}) | the true ones | {held_out:.2%} (chance: 10%) |

## Limitations
A control for one test, nothing else: its predictions mean nothing.
"""


def control_model_card(args: argparse.Namespace, net: nn.Module, result: ShuffledRun,
                       held_out: float, train_seconds: float, cpu_seconds: float,
                       load: float) -> str:
    """The data-randomisation control's card, with the measured numbers of this run."""
    parameters = sum(p.numel() for p in net.parameters())
    command = (f"fragility train-bundled --control --train-images {args.train_images} "
               f"--steps {args.steps} --batch-size {args.batch_size} --lr {args.lr} "
               f"--seed {args.seed} --data-seed {args.data_seed} --eval-images {args.eval_images}")
    return f"""# Model card: the data-randomisation control model

## What it is for
The control of the data randomisation test of Adebayo et al., *Sanity Checks for Saliency
Maps* (NeurIPS 2018). The shuffled-label model (`MODEL_CARD-shuffled.md`) differs from the
real bundled model (`MODEL_CARD.md`) in its labels and also in its recipe (a small fixed
set, Adam, a few epochs, against fresh images, AdamW and one-cycle). This model has the
shuffled model's recipe and images with their **true** labels, and another seed: how
similar its maps are to the real model's is how similar two networks that learned the
labels are. The shuffled model's similarity is compared with that, not with 1.
`fg.load_model("bundled-control")`; `fg.data_randomization(..., control_model=...)`.

## Data
The shuffled model's {args.train_images} images (`fragility.training.shuffled_training_set`,
`--data-seed {args.data_seed}`, the seed of the real model's first block of training data),
with their true labels.

## Architecture
`fragility.models.bundled.build_net`, as the real bundled model ({parameters:,} parameters),
with the same input normalisation (mean {MEAN}, std {STD}) and the real checkpoint's mean
image of the generator's data (`_dataset_mean`) as the reference of integrated gradients and
DeepLIFT.

## Training
The shuffled model's recipe: Adam, constant learning rate {args.lr}, no weight decay,
batches of {args.batch_size}, cross-entropy, a fresh batch order every epoch,
`torch.use_deterministic_algorithms(True)`; initialisation and batch order from `--seed
{args.seed}` (the shuffled model's: 0). It ran exactly {len(result.losses)} steps
({result.epochs} epochs), the steps the shuffled model took to fit its labels, with no early
stop. Exact command (from the repository root):

    {command}

It took {train_seconds:.0f} s wall-clock and {cpu_seconds:.0f} CPU-seconds
({torch.get_num_threads()} threads, torch {torch.__version__}; the 5-minute load average was
{load:.1f} at the end). Final training loss {result.losses[-1]:.4f}. Floating-point summation
order depends on the thread count, so another machine gives close, not bit-identical, weights.

## Accuracy
| measured on | labels | accuracy |
|---|---|---|
| its {args.train_images} training images | the true ones it was trained on | **{result.train_accuracy:.2%}** |
| {args.eval_images} fresh images (seed {EVAL_SEED}) | the true ones | {held_out:.2%} (chance: 10%) |

## Limitations
A control for one test. Fitted to {args.train_images} images by the shuffled model's short recipe, it
generalises far less than the real model ({held_out:.1%} on fresh images): much of what it
learned of those labels is memorised, as the shuffled model memorised its labels.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fragility.training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
