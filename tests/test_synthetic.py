import pytest
import torch

from fragility.errors import ConfigError
from fragility.synthetic import CLASS_NAMES, make_dataset


def test_shapes_types_and_range():
    images, labels, masks = make_dataset(30, seed=3, size=64)
    assert images.shape == (30, 3, 64, 64) and images.dtype == torch.float32
    assert labels.shape == (30,) and labels.dtype == torch.long
    assert masks.shape == (30, 64, 64) and masks.dtype == torch.bool
    assert images.min() >= 0 and images.max() <= 1
    assert len(CLASS_NAMES) >= 10 and len(set(CLASS_NAMES)) == len(CLASS_NAMES)


def test_deterministic_per_seed_and_different_across_seeds():
    first = make_dataset(20, seed=7)
    second = make_dataset(20, seed=7)
    other = make_dataset(20, seed=8)
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    assert not torch.equal(first[0], other[0])


def test_does_not_touch_global_rng():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    make_dataset(5, seed=1)
    assert torch.equal(torch.rand(3), expected)


def test_classes_are_balanced():
    _, labels, _ = make_dataset(10 * len(CLASS_NAMES), seed=0)
    assert torch.equal(torch.bincount(labels, minlength=len(CLASS_NAMES)),
                       torch.full((len(CLASS_NAMES),), 10))


def test_masks_cover_a_plausible_object_inside_the_image():
    images, labels, masks = make_dataset(200, seed=11)
    fraction = masks.float().mean(dim=(1, 2))
    assert (fraction > 0.01).all() and (fraction < 0.5).all()
    # the object stays inside the frame: mask pixels rarely touch the border
    border = masks[:, 0].any(1) | masks[:, -1].any(1) | masks[:, :, 0].any(1) | masks[:, :, -1].any(1)
    assert border.float().mean() < 0.1
    # object pixels are uniformly coloured up to shading: their colour spread is small
    for image, mask in zip(images[:20], masks[:20]):
        inside = image[:, mask]
        assert (inside.std(dim=1) < 0.15).all()


def test_classes_have_distinct_mask_areas_on_average():
    # a cheap check that the classes are different shapes, not one shape relabelled
    _, labels, masks = make_dataset(400, seed=5)
    area = masks.float().mean(dim=(1, 2))
    means = torch.stack([area[labels == c].mean() for c in range(len(CLASS_NAMES))])
    ring, disc = CLASS_NAMES.index("ring"), CLASS_NAMES.index("disc")
    assert means[ring] < 0.8 * means[disc]
    assert means.std() > 0.005


def test_other_sizes():
    images, _, masks = make_dataset(4, seed=0, size=96)
    assert images.shape == (4, 3, 96, 96) and masks.shape == (4, 96, 96)


@pytest.mark.parametrize("kwargs", [dict(n=0, seed=0), dict(n=3, seed=-1), dict(n=2.5, seed=0),
                                    dict(n=3, seed=0, size=8)])
def test_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        make_dataset(**kwargs)
