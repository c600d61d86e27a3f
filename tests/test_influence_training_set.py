"""fg.training_set: the bundled model's own training images, as its training run drew them."""

from __future__ import annotations

import pytest
import torch
from safetensors import safe_open

import fragility as fg
from fragility import data, training
from fragility.models.bundled import BUNDLED_PATH, INPUT_SIZE
from fragility.synthetic import make_dataset


class Drawn(Exception):
    """Stops a training run at its first draw of images."""


@pytest.fixture(scope="module")
def first_block():
    """The first block of training images by the default seed (rendering one costs seconds)."""
    return fg.training_set("bundled", n=data.BUNDLED_BATCH_SIZE * training._STEPS_PER_BLOCK)


def test_the_images_are_the_ones_the_shipped_training_run_drew_first(monkeypatch, first_block):
    calls = []

    def spy(n, seed, size):
        calls.append((n, seed, size))
        raise Drawn
    monkeypatch.setattr(training, "make_dataset", spy)
    with pytest.raises(Drawn):     # the shipped checkpoint's run, as its card gives it
        training.train(steps=600, batch_size=128, seed=0)
    (n, seed, size), = calls
    images, labels = first_block
    expected_images, expected_labels, _ = make_dataset(n, seed, size)
    assert (n, size) == (len(labels), INPUT_SIZE)
    assert images.dtype == torch.float32 and labels.dtype == torch.long
    assert torch.equal(images, expected_images) and torch.equal(labels, expected_labels)


def test_the_default_seed_is_the_shipped_checkpoints(first_block):
    with safe_open(str(BUNDLED_PATH), "pt") as checkpoint:
        metadata = checkpoint.metadata()
    assert int(metadata["seed"]) == data.BUNDLED_SEED and int(metadata["steps"]) == data.BUNDLED_STEPS
    card = (BUNDLED_PATH.parent / "MODEL_CARD.md").read_text()
    assert f"--batch-size {data.BUNDLED_BATCH_SIZE} " in card
    assert "make_dataset(1024, seed=1 + b)" in card and 'training_set("bundled", n, seed=0)' in card
    other, _ = fg.training_set("bundled", n=8, seed=1)
    assert not torch.equal(first_block[0][:8], other)


def test_the_model_fits_its_training_images(first_block):
    images, labels = first_block[0][:200], first_block[1][:200]
    predicted, _ = fg.predict(fg.load_model("bundled", device="cpu"), images)
    assert (predicted == labels).float().mean() >= 0.98
    assert torch.bincount(labels, minlength=10).min() >= 10       # every class is there


def test_more_images_than_a_block_continue_with_the_next_block(monkeypatch):
    monkeypatch.setattr(data, "BUNDLED_BATCH_SIZE", 4)    # blocks of 32 images, cheap to render
    images, labels = fg.training_set("bundled", n=34, seed=3)
    first, first_labels, _ = make_dataset(32, training._block_seed(3, 0), INPUT_SIZE)
    second, second_labels, _ = make_dataset(32, training._block_seed(3, 1), INPUT_SIZE)
    assert torch.equal(images, torch.cat([first, second[:2]]))
    assert torch.equal(labels, torch.cat([first_labels, second_labels[:2]]))


@pytest.mark.parametrize("arguments, message", [
    (dict(model="resnet18"), "training data of bundled only"),
    (dict(n=0), "n \\(training images\\) must be >= 1"),
    (dict(n=76_801), "must be <= 76800"),
    (dict(n=2.5), "whole number"),
    (dict(seed=-1), "seed \\(training seed\\) must be >= 0"),
])
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(fg.ConfigError, match=message):
        fg.training_set(**{"model": "bundled", "n": 4, **arguments})


def test_start_picks_later_images_of_the_run(monkeypatch):
    monkeypatch.setattr(data, "BUNDLED_BATCH_SIZE", 4)    # blocks of 32 images, cheap to render
    images, labels = fg.training_set("bundled", n=5, seed=3, start=30)
    first, first_labels, _ = make_dataset(32, training._block_seed(3, 0), INPUT_SIZE)
    second, second_labels, _ = make_dataset(32, training._block_seed(3, 1), INPUT_SIZE)
    assert torch.equal(images, torch.cat([first[30:], second[:3]]))
    assert torch.equal(labels, torch.cat([first_labels[30:], second_labels[:3]]))
    with pytest.raises(fg.ConfigError, match="start"):
        fg.training_set("bundled", n=5, start=600 * 4 - 4)


def test_the_hessian_sample_is_the_last_images_of_the_run(monkeypatch):
    monkeypatch.setattr(data, "BUNDLED_BATCH_SIZE", 4)
    sample = data.hessian_sample("bundled", n=40, seed=3)
    last = 600 // training._STEPS_PER_BLOCK - 1          # the run's last block of 32
    expected = torch.cat([make_dataset(32, training._block_seed(3, block), INPUT_SIZE)[0]
                          for block in (last - 1, last)])[-40:]
    assert torch.equal(sample, expected)
