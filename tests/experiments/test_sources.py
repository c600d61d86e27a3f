"""Image sources of a sweep: folders (flat or by class, masks beside), synthetic:N, samples, tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import fragility as fg
from fragility.experiments.sources import SYNTHETIC_SEED, image_source
from fragility.synthetic import CLASS_NAMES, make_dataset
from fragility.training import _MAX_SEED, _MAX_STEPS, _STEPS_PER_BLOCK, EVAL_SEED, _block_seed


def save_png(path, size=(20, 20), value=None, seed=0):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8) if value is None else \
        np.full((size[1], size[0]), value, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def test_synthetic_images_are_held_out_balanced_and_a_prefix_of_larger_sets():
    small, large = image_source("synthetic:7", None), image_source("synthetic:23", None)
    assert small.ids == [f"synthetic-{i:05d}" for i in range(7)] and large.ids[:7] == small.ids
    a, b = small.load(small.ids), large.load(small.ids)
    assert torch.equal(a.images, b.images) and a.images.shape == (7, 3, 64, 64)
    assert all(torch.equal(x, y) for x, y in zip(a.masks, b.masks))
    assert a.classes == [small.classes[i] for i in small.ids]
    # every block of 10 holds each class once; the labels are the generator's
    first_block = [large.classes[f"synthetic-{i:05d}"] for i in range(10)]
    assert sorted(first_block) == sorted(CLASS_NAMES)
    images, labels, masks = make_dataset(10, SYNTHETIC_SEED, 64)
    assert torch.equal(large.load(large.ids[:10]).images, images)
    assert first_block == [CLASS_NAMES[label] for label in labels.tolist()]
    # never a seed the training draws from (its largest block seed is below EVAL_SEED)
    assert SYNTHETIC_SEED > EVAL_SEED > _block_seed(_MAX_SEED, _MAX_STEPS // _STEPS_PER_BLOCK + 1)
    assert image_source("synthetic:3", 32).load(["synthetic-00002"]).images.shape == (1, 3, 32, 32)


def test_a_flat_folder_with_masks_unreadable_files_and_other_files(tmp_path):
    save_png(tmp_path / "a.png")
    save_png(tmp_path / "b.jpg", seed=1)
    mask = np.zeros((20, 20), dtype=np.uint8)
    mask[5:10, 5:15] = 255
    Image.fromarray(mask).save(tmp_path / "a_mask.png")
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"")
    with pytest.warns(UserWarning, match=r"1 of 3 images .* broken.png: .*not an image"):
        source = image_source(tmp_path, None)
    assert source.ids == ["a.png", "b.jpg"]
    assert source.skipped == [{"image_id": "broken.png", "reason": source.skipped[0]["reason"]}]
    assert "broken.png" in source.skipped[0]["reason"]
    batch = source.load(source.ids)
    assert batch.images.shape == (2, 3, 20, 20) and batch.classes == [None, None]
    assert batch.masks[1] is None
    assert batch.masks[0].dtype == torch.bool and int(batch.masks[0].sum()) == 50
    assert torch.equal(batch.images[0], fg.load_image(tmp_path / "a.png"))


def test_class_sub_folders_name_the_classes_and_images_are_resized(tmp_path):
    save_png(tmp_path / "cat" / "1.png", size=(30, 20))
    save_png(tmp_path / "dog" / "1.png", size=(20, 30), seed=1)
    save_png(tmp_path / "loose.png", size=(24, 24), seed=2)
    with pytest.raises(fg.ConfigError, match="different sizes"):
        image_source(tmp_path, None)
    source = image_source(tmp_path, 16)
    assert source.ids == ["loose.png", "cat/1.png", "dog/1.png"]
    assert [source.classes[i] for i in source.ids] == [None, "cat", "dog"]
    batch = source.load(["dog/1.png"])
    assert batch.images.shape == (1, 3, 16, 16) and batch.classes == ["dog"]
    assert torch.equal(batch.images[0], fg.load_image(tmp_path / "dog" / "1.png", size=16))


def test_a_file_that_breaks_after_the_check_is_skipped_when_loaded(tmp_path):
    save_png(tmp_path / "a.png")
    save_png(tmp_path / "b.png", seed=1)
    source = image_source(tmp_path, None)
    (tmp_path / "a.png").write_bytes(b"")
    with pytest.warns(UserWarning, match="a.png"):
        batch = source.load(source.ids)
    assert batch.ids == ["b.png"] and batch.images.shape[0] == 1
    assert [item["image_id"] for item in source.skipped] == ["a.png"]


def test_samples_follow_the_models_domain_and_tensors_get_ids():
    shapes = image_source("samples", 64, "synthetic")
    assert shapes.ids == [s.name for s in fg.samples("synthetic")]
    assert all(mask is not None for mask in shapes.load(shapes.ids[:3]).masks)
    photos = image_source("samples", 224, "imagenet")
    assert photos.ids == [s.name for s in fg.samples("photo")]

    images = torch.rand(3, 3, 8, 8)
    source = image_source(images, None)
    assert source.ids == ["image-00000", "image-00001", "image-00002"]
    assert torch.equal(source.load(["image-00002"]).images[0], images[2])


@pytest.mark.parametrize("bad, error", [("synthetic:x", fg.ConfigError), ("synthetic:0", fg.ConfigError),
                                        ("/no/such/folder", fg.InputError), (42, fg.InputError),
                                        (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), fg.InputError)])
def test_bad_sources_are_refused_with_the_valid_forms(bad, error):
    with pytest.raises(error):
        image_source(bad, None)


def test_an_empty_folder_is_an_error(tmp_path):
    with pytest.raises(fg.InputError, match="no images"):
        image_source(tmp_path, None)
