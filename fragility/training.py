"""Train the bundled model on the generated shapes and write its model card.

    fragility train-bundled          (or: python -m fragility.training)

Training is seeded and uses fresh images for every block of steps (drawn from seeds
derived from --seed); the accuracy is measured on images from EVAL_SEED, a seed the
training never draws from.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .models.bundled import BUNDLED_PATH, INPUT_SIZE, MEAN, STD, build_net, save_bundled
from .synthetic import CLASS_NAMES, make_dataset
from .validation import check_number

EVAL_SEED = 999_999_937
_STEPS_PER_BLOCK = 8  # one freshly rendered block of images serves this many steps
_MAX_SEED = 9_999
_MAX_STEPS = 100_000


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `train-bundled` options (also used by `python -m fragility.training`)."""
    parser.add_argument("--steps", type=int, default=600, help="optimiser steps (default 600)")
    parser.add_argument("--batch-size", type=int, default=128, help="images per step (default 128)")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (one-cycle)")
    parser.add_argument("--seed", type=int, default=0, help=f"training seed, 0..{_MAX_SEED}")
    parser.add_argument("--eval-images", type=int, default=2000,
                        help="fresh images (seed EVAL_SEED) the accuracy is measured on")
    parser.add_argument("--output", type=Path, default=BUNDLED_PATH,
                        help="where to write the safetensors checkpoint")
    parser.add_argument("--card", type=Path, default=None,
                        help="where to write the model card (default: MODEL_CARD.md next to --output)")


def run(args: argparse.Namespace) -> int:
    """Train, evaluate, save the checkpoint and write the model card; returns the exit code."""
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
    save_bundled(net, list(CLASS_NAMES), args.output,
                 extra={"accuracy": f"{accuracy:.4f}", "train_seconds": f"{train_seconds:.0f}",
                        "steps": args.steps, "seed": args.seed})
    card = args.card or args.output.parent / "MODEL_CARD.md"
    card.write_text(model_card(args, net, accuracy, per_class, train_seconds, cpu_seconds,
                               load, losses[-1]))
    print(f"wrote {args.output} and {card}")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fragility.training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
