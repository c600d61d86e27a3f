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
# Training images the Hessian of the influence scores is averaged over (`hessian_sample`).
DEFAULT_HESSIAN_IMAGES = 2048


def training_set(model: str = "bundled", n: int = 1000, seed: int | None = None, start: int = 0
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `n` training images of `model` and their labels: ((n,3,64,64) float32 in
    [0,1], (n,) long); with `start`, images start .. start + n - 1 of the run instead.

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
    start = check_number(start, "start (first training image)", low=0, high=total - n, integer=True)
    seed = BUNDLED_SEED if seed is None else check_number(
        seed, "seed (training seed)", low=0, high=training._MAX_SEED, integer=True)
    block_size = BUNDLED_BATCH_SIZE * training._STEPS_PER_BLOCK
    first = start // block_size
    images, labels = [], []
    for block in range(first, -(-(start + n) // block_size)):
        block_images, block_labels, _ = make_dataset(block_size, training._block_seed(seed, block), INPUT_SIZE)
        images.append(block_images)
        labels.append(block_labels)
    offset = start - first * block_size
    return torch.cat(images)[offset:offset + n], torch.cat(labels)[offset:offset + n]


def hessian_sample(model: str = "bundled", n: int = DEFAULT_HESSIAN_IMAGES, seed: int | None = None
                   ) -> torch.Tensor:
    """(n,3,64,64) training images to average the influence scores' Hessian over: the last n
    the training run drew, so they are not among the first images `training_set` returns
    (the scored candidates) as long as candidates + n <= 76,800."""
    total = BUNDLED_STEPS * BUNDLED_BATCH_SIZE
    n = check_number(n, "n (Hessian images)", low=1, high=total, integer=True)
    return training_set(model, n=n, seed=seed, start=total - n)[0]


def dataset_mean(seed: int = BUNDLED_SEED, steps: int = BUNDLED_STEPS,
                 batch_size: int = BUNDLED_BATCH_SIZE) -> torch.Tensor:
    """The pixel-wise mean image (3,64,64) of every image a training run of `steps` steps of
    `batch_size` draws with `seed`: the bundled model's fixed reference image."""
    block_size = batch_size * training._STEPS_PER_BLOCK
    blocks = -(-steps // training._STEPS_PER_BLOCK)
    total = torch.zeros(3, INPUT_SIZE, INPUT_SIZE, dtype=torch.float64)
    for block in range(blocks):
        images, _, _ = make_dataset(block_size, training._block_seed(seed, block), INPUT_SIZE)
        total += images.double().sum(dim=0)
    return (total / (blocks * block_size)).float()


def store_dataset_mean(path=None, seed: int = BUNDLED_SEED) -> torch.Tensor:
    """Write the training data's mean image into a bundled checkpoint (weights unchanged)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from .models.bundled import BUNDLED_PATH, DATASET_MEAN_KEY

    path = BUNDLED_PATH if path is None else path
    with safe_open(str(path), framework="pt") as stored:
        metadata = stored.metadata()
        state = {key: stored.get_tensor(key) for key in stored.keys()}
    state[DATASET_MEAN_KEY] = dataset_mean(seed)
    save_file(state, str(path), metadata=metadata)
    path.chmod(0o644)
    return state[DATASET_MEAN_KEY]
