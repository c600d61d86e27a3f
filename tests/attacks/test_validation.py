"""Bad parameters give a ConfigError / InputError naming the bad value and the valid ones."""

import pytest
import torch

from fragility.attacks import attack
from fragility.errors import ConfigError, InputError


@pytest.mark.parametrize("kwargs, message", [
    ({"epsilon": -0.1}, r"epsilon must be >= 0.*-0.1"),
    ({"epsilon": 1.5}, r"epsilon must be <= 1.*1.5"),
    ({"epsilon": float("nan")}, r"epsilon must be a finite number"),
    ({"k": 0}, r"k must be >= 1, got 0"),
    ({"k": 257}, r"k .* must be <= 256, got 257"),
    ({"epsilno": 0.1}, r"attack\(\) has no parameter epsilno; attack parameters: .*epsilon"),
    ({"attack": "random-sign", "criterion": "nope"}, r"unknown criterion 'nope'.*top-k.*mass-center"),
    ({"attack": "random-sign", "criterion": "targeted"}, r"'targeted' criterion needs region="),
    ({"attack": "random-sign", "draws": "two"}, r"unknown draws 'two'.*every-step, walk, single"),
    ({"target": [0, 1]}, r"target needs one class per image \(3\) or one for all, got 2"),
    ({"defence": "armour"}, r"unknown defence 'armour'.*beta-smoothing.*smoothgrad"),
    ({"defence_options": {"beta": 1.0}}, r"defence_options given without a defence"),
    ({"defence": "beta-smoothing", "defence_options": {"sigma": 1.0}}, r"no option sigma.*beta"),
    ({"defence": "beta-smoothing", "defence_options": {"beta": 0.0}}, r"defence_beta must be > 0"),
    ({"steps": -1}, r"steps must be >= 0, got -1"),
    ({"steps": 2.5}, r"steps must be a whole number"),
    ({"step_size": 0.0}, r"step_size must be > 0"),
    ({"beta": 0}, r"beta must be > 0"),
    ({"attack": "target-map", "target_map": torch.ones(16, 16), "gamma": -1.0}, r"gamma must be >= 0"),
    ({"seed": -3}, r"seed must be >= 0"),
    ({"method": "nope"}, r"unknown method 'nope'.*gradient"),
    ({"attack": "nope"}, r"unknown attack 'nope'.*top-k.*mass-center.*random-sign.*pgd"),
    ({"method_options": {"bogus": 1}}, r"method 'gradient' has no parameter bogus; its parameters: none"),
    ({"method": "smoothgrad", "method_options": {"samples": 0}}, r"samples must be >= 1, got 0"),
    ({"attack": "targeted"}, r"'targeted' attack needs region="),
    ({"attack": "target-map"}, r"'target-map' attack needs target_map="),
    ({"attack": "targeted", "region": torch.ones(8, 8, dtype=torch.bool)}, r"region must have shape \(H,W\) = \(16, 16\)"),
    ({"attack": "targeted", "region": torch.ones(2, 16, 16, dtype=torch.bool)}, r"region must have shape"),
    ({"attack": "target-map", "target_map": -torch.ones(16, 16)}, r"target_map must be finite and non-negative"),
    ({"attack": "target-map", "target_map": torch.ones(4, 4)}, r"target_map must have shape"),
    ({"mask": torch.ones(3, 3, dtype=torch.bool)}, r"mask must have shape"),
    ({"callback": 3}, r"callback must be callable"),
])
def test_bad_parameters(kwargs, message, images, cnn):
    with pytest.raises(ConfigError, match=message):
        attack(cnn, images, **{"steps": 1, "k": 20, **kwargs})


def test_bad_target_class(images, cnn):
    with pytest.raises(InputError, match=r"target classes must lie in \[0, 4\], got \[7, 7, 7\]"):
        attack(cnn, images, steps=1, k=20, target=7)


def test_bad_images(cnn):
    with pytest.raises(InputError, match="NaN"):
        attack(cnn, torch.full((1, 3, 16, 16), float("nan")), steps=1, k=20)
    with pytest.raises(InputError, match=r"\[0,1\]"):
        attack(cnn, torch.full((1, 3, 16, 16), 2.0), steps=1, k=20)
    with pytest.raises(InputError, match=r"shape \(N,3,H,W\)"):
        attack(cnn, torch.rand(1, 1, 16, 16), steps=1, k=20)
