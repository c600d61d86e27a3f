import pytest
import torch
from torchvision.transforms.functional import gaussian_blur

from fragility.errors import ConfigError
from fragility.explainers.baselines import BASELINES, baseline


def test_black_is_zero(images):
    assert torch.equal(baseline(images, "black"), torch.zeros_like(images))


def test_mean_is_each_images_channel_mean(images):
    reference = baseline(images, "mean")
    assert reference.shape == images.shape
    for n in range(3):
        for c in range(3):
            assert torch.allclose(reference[n, c], images[n, c].mean().expand(16, 16))


def test_blur_is_a_gaussian_blur_of_the_image(images):
    reference = baseline(images, "blur")
    assert reference.shape == images.shape
    torch.testing.assert_close(reference, gaussian_blur(images, [7, 7], [0.8, 0.8]))
    assert (reference - images).abs().mean() > 0.05  # actually blurred
    torch.testing.assert_close(reference.mean(), images.mean(), atol=0.02, rtol=0)


def test_blur_handles_tiny_and_large_images():
    for size in (2, 5, 224):
        x = torch.rand(1, 3, size, size)
        assert baseline(x, "blur").shape == x.shape


def test_unknown_baseline_lists_the_valid_ones(images):
    with pytest.raises(ConfigError, match="unknown baseline 'zero'; choose one of: dataset-mean, black, mean, blur"):
        baseline(images, "zero")
    assert list(BASELINES) == ["dataset-mean", "black", "mean", "blur"]
