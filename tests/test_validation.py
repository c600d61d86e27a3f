"""User input checks shared by the API: clear FragilityErrors, never asserts."""

import math

import pytest
import torch

import fragility as fg
from fragility.validation import check_images, check_number


def test_single_image_becomes_a_batch():
    assert check_images(torch.rand(3, 8, 8)).shape == (1, 3, 8, 8)


@pytest.mark.parametrize("images, message", [
    (torch.full((1, 3, 4, 4), float("nan")), "NaN"),
    (torch.full((1, 3, 4, 4), float("inf")), "NaN or infinite"),
    (torch.full((1, 3, 4, 4), 2.0), r"\[0,1\]"),
    (torch.rand(1, 4, 4, 4), r"\(N,3,H,W\)"),
    (torch.rand(4, 4), r"\(N,3,H,W\)"),
    (torch.zeros(1, 3, 4, 4, dtype=torch.uint8), "floating point"),
    (torch.rand(0, 3, 4, 4), "empty"),
    ([[0.0]], "torch.Tensor"),
])
def test_bad_images_are_input_errors(images, message):
    with pytest.raises(fg.InputError, match=message):
        check_images(images)


@pytest.mark.parametrize("value, kwargs", [
    (-0.1, dict(low=0)), (0, dict(low=0, low_inclusive=False)), (2, dict(high=1)),
    (math.nan, {}), (math.inf, {}), ("3", {}), (True, {}), (1.5, dict(integer=True)),
])
def test_bad_numbers_are_config_errors(value, kwargs):
    with pytest.raises(fg.ConfigError, match="epsilon"):
        check_number(value, "epsilon", **kwargs)


def test_good_numbers_pass():
    assert check_number(3.0, "steps", low=0, integer=True) == 3
    assert check_number(0.5, "epsilon", low=0, high=1) == 0.5


def test_every_error_is_a_fragility_error():
    for kind in (fg.InputError, fg.ConfigError, fg.ModelError):
        assert issubclass(kind, fg.FragilityError)
