"""The bundled model's own training data, for methods that need it (influence functions).

`fragility.training` never stores a dataset: it renders fresh blocks of images with
`fragility.synthetic.make_dataset`, block b of a run with `--seed s` drawn from seed
1 + 100003 s + b (`training._block_seed`), and each block of
BATCH_SIZE x 8 images serves 8 optimiser steps. `training_set` renders the same blocks and
returns the first n images in the order they were rendered (training then shuffles within
each block), so with the default seed they are images the shipped checkpoint was trained on.
"""

from __future__ import annotations

import torch

from . import training
from .errors import ConfigError
from .models.bundled import INPUT_SIZE
from .synthetic import make_dataset
from .validation import check_number

# The shipped checkpoint's training run, as its model card records it
# (fragility/assets/models/MODEL_CARD.md: `--steps 600 --batch-size 128 --seed 0`).
BUNDLED_SEED = 0
BUNDLED_STEPS = 600
BUNDLED_BATCH_SIZE = 128
TRAINING_MODELS = ("bundled",)


def training_set(model: str = "bundled", n: int = 1000, seed: int | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `n` training images of `model` and their labels: ((n,3,64,64) float32 in
    [0,1], (n,) long).

    seed: the training seed (`fragility train-bundled --seed`); None means 0, the seed of the
    shipped checkpoint (its model card), so the images are ones it was trained on. Another
    seed gives other images from the same generator and distribution. n is at most the
    76,800 images that a 600-step run of batch 128 draws; images are rendered in blocks of
    1,024, so the first call for a block costs its full rendering.
    """
    if model not in TRAINING_MODELS:
        raise ConfigError(f"training_set knows the training data of {', '.join(TRAINING_MODELS)} only, "
                          f"got {model!r}")
    total = BUNDLED_STEPS * BUNDLED_BATCH_SIZE
    n = check_number(n, "n (training images)", low=1, high=total, integer=True)
    seed = BUNDLED_SEED if seed is None else check_number(
        seed, "seed (training seed)", low=0, high=training._MAX_SEED, integer=True)
    block_size = BUNDLED_BATCH_SIZE * training._STEPS_PER_BLOCK
    images, labels = [], []
    for block in range(-(-n // block_size)):
        block_images, block_labels, _ = make_dataset(block_size, training._block_seed(seed, block), INPUT_SIZE)
        images.append(block_images)
        labels.append(block_labels)
    return torch.cat(images)[:n], torch.cat(labels)[:n]
