import pytest
import torch

import fragility
from fragility.errors import ConfigError, InputError
from fragility.samples import Sample, get_sample, samples, write_synthetic_samples
from fragility.synthetic import CLASS_NAMES, make_dataset


def test_every_sample_exists_and_loads():
    found = samples()
    assert {sample.kind for sample in found} == {"photo", "synthetic"}
    for sample in found:
        assert isinstance(sample, Sample) and sample.path.is_file() and sample.title
        image = sample.load()
        assert image.dtype == torch.float32 and image.shape[0] == 3
        assert image.min() >= 0 and image.max() <= 1


def test_photos_are_licensed_and_reasonably_small():
    photos = samples("photo")
    assert len(photos) >= 4
    licences = (photos[0].path.parent / "LICENSES.md").read_text()
    for photo in photos:
        assert photo.path.name in licences and photo.mask_path is None and photo.load_mask() is None
        assert 256 <= min(photo.load().shape[1:]) <= 320
        assert photo.load(224).shape == (3, 224, 224)


def test_synthetic_samples_cover_every_class_with_masks():
    shapes = samples("synthetic")
    assert {sample.label for sample in shapes} == set(CLASS_NAMES)
    for sample in shapes:
        image, mask = sample.load(), sample.load_mask()
        assert image.shape == (3, 64, 64) and mask.shape == (64, 64) and mask.dtype == torch.bool
        assert 0.01 < mask.float().mean() < 0.5
        assert sample.load_mask(32).shape == (32, 32)


def test_synthetic_samples_are_reproducible(tmp_path):
    entries = write_synthetic_samples(tmp_path, per_class=1)
    assert len(entries) == len(CLASS_NAMES)
    images, labels, masks = make_dataset(2 * len(CLASS_NAMES), 2024)
    first = entries[0]
    index = labels.tolist().index(CLASS_NAMES.index(first["label"]))
    written = fragility.load_image(tmp_path / first["file"])
    assert torch.allclose(written, images[index], atol=0.5 / 255 + 1e-6)
    written_mask = fragility.load_image(tmp_path / first["mask"])[0] > 0.5
    assert torch.equal(written_mask, masks[index])


def test_the_shipped_samples_match_the_generator(tmp_path):
    # tolerances allow for last-bit float differences between CPUs, nothing more
    write_synthetic_samples(tmp_path)
    for sample in samples("synthetic"):
        fresh = fragility.load_image(tmp_path / sample.path.name)
        assert (fresh - sample.load()).abs().max() <= 1 / 255 + 1e-6
        fresh_mask = fragility.load_image(tmp_path / sample.mask_path.name)[0] > 0.5
        assert (fresh_mask != sample.load_mask()).sum() <= 2


def test_lookup_and_bad_kind():
    assert get_sample("chelsea").label == "tabby"
    with pytest.raises(InputError, match="chelsea"):
        get_sample("dog")
    with pytest.raises(ConfigError, match="photo"):
        samples("video")
