"""fg.attack(..., baseline=True): the matching random-sign run, the one the CLI, the pages and
the display compare every attack with."""

import pytest
import torch

import fragility as fg
from nets import make_cnn

IMAGES = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(3), dtype=torch.float64)


@pytest.mark.parametrize("attack,extra", [("top-k", {}), ("mass-center", {}),
                                          ("targeted", {"region": (0.0, 0.0, 0.5, 0.5)})])
def test_the_baseline_is_random_sign_with_the_same_settings_and_criterion(attack, extra):
    model = make_cnn()
    settings = dict(epsilon=4 / 255, steps=3, step_size=1 / 255, k=20, seed=5)
    region = None
    if "region" in extra:
        region = torch.zeros(16, 16, dtype=torch.bool)
        region[:8, :8] = True
        settings["region"] = region
    result = fg.attack(model, IMAGES, attack=attack, baseline=True, **settings)
    alone = fg.attack(model, IMAGES, attack="random-sign", criterion=attack,
                      **{name: value for name, value in settings.items() if name != "step_size"})
    assert result.baseline.config["attack"] == "random-sign"
    assert result.baseline.config["criterion"] == attack
    assert result.baseline.config["epsilon"] == settings["epsilon"] and result.baseline.config["seed"] == 5
    torch.testing.assert_close(result.baseline.perturbed, alone.perturbed)
    for name in ("spearman", "top_k_intersection", "center_shift"):
        torch.testing.assert_close(result.baseline.metrics[name], alone.metrics[name])


def test_a_label_attack_is_compared_by_the_top_k_criterion():
    result = fg.attack(make_cnn(), IMAGES, attack="pgd", steps=2, k=20, baseline=True)
    assert result.baseline.config["criterion"] == "top-k"


def test_random_sign_is_its_own_baseline_and_none_is_run_unless_asked():
    assert fg.attack(make_cnn(), IMAGES, attack="random-sign", steps=2, k=20, baseline=True).baseline is None
    assert fg.attack(make_cnn(), IMAGES, steps=2, k=20).baseline is None
