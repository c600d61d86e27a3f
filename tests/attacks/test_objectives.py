"""Each dissimilarity on tiny hand-made maps with known answers."""

import math

import pytest
import torch

from fragility.attacks import attacks, get_attack
from fragility.attacks.registry import KINDS, Reference
from fragility.errors import ConfigError

ORIGINAL = torch.tensor([[[0.4, 0.3], [0.2, 0.1]]], dtype=torch.float64)
PERTURBED = torch.tensor([[[0.1, 0.2], [0.3, 0.4]]], dtype=torch.float64)
LOGITS = torch.tensor([[1.0, 0.0]], dtype=torch.float64)


def reference(k=2, region=None, target_map=None, gamma=1.0, maps=ORIGINAL, criterion="top-k"):
    values = {"region": region, "target_map": target_map, "gamma": gamma, "criterion": criterion}
    return Reference(maps, LOGITS, torch.tensor([0]), k, values)


def dissimilarity(name, perturbed=PERTURBED, logits=LOGITS, **kwargs):
    return get_attack(name).objective(reference(**kwargs))(perturbed, logits)


def test_top_k_is_minus_the_mass_on_the_original_top_k():
    # original top-2: (0,0) and (0,1); the perturbed map has 0.1 + 0.2 there
    assert dissimilarity("top-k", k=2).tolist() == pytest.approx([-0.3])
    assert dissimilarity("top-k", k=1).tolist() == pytest.approx([-0.1])
    assert dissimilarity("top-k", perturbed=ORIGINAL, k=2).tolist() == pytest.approx([-0.7])


def test_mass_center_is_the_distance_between_centers():
    corner = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]], dtype=torch.float64)
    opposite = torch.tensor([[[0.0, 0.0], [0.0, 1.0]]], dtype=torch.float64)
    assert dissimilarity("mass-center", perturbed=opposite, maps=corner).tolist() == pytest.approx([math.sqrt(2)])
    assert dissimilarity("mass-center", perturbed=corner, maps=corner).tolist() == pytest.approx([0.0])


def test_targeted_is_the_mass_inside_the_region():
    region = torch.tensor([[[False, True], [False, False]]])
    assert dissimilarity("targeted", region=region).tolist() == pytest.approx([0.2])


def test_target_map_is_minus_map_distance_plus_gamma_probability_change():
    target = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]], dtype=torch.float64)
    perturbed = torch.tensor([[[0.5, 0.5], [0.0, 0.0]]], dtype=torch.float64)
    # maps at mean 1: [[2,2],[0,0]] vs [[4,0],[0,0]] -> mean squared difference (4+4)/4 = 2
    # softmax of logits [2,0] vs of the original [1,0]: class 0 has probability
    # 1/(1+e^-2) vs 1/(1+e^-1), class 1 the rest, so ||g - g_t||^2 = 2 * (difference)^2
    logits = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    change = 1 / (1 + math.exp(-2)) - 1 / (1 + math.exp(-1))
    got = dissimilarity("target-map", perturbed=perturbed, logits=logits, target_map=target, gamma=2.0)
    assert got.tolist() == pytest.approx([-(2.0 + 2.0 * 2 * change ** 2)])
    assert dissimilarity("target-map", perturbed=target, target_map=target).tolist() == pytest.approx([0.0])


@pytest.mark.parametrize("criterion", ["top-k", "mass-center"])
def test_random_sign_measures_its_criterion(criterion):
    assert dissimilarity("random-sign", criterion=criterion).tolist() == pytest.approx(
        dissimilarity(criterion).tolist())


def test_pgd_measures_the_cross_entropy_of_the_original_label():
    logits = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    assert dissimilarity("pgd", logits=logits).tolist() == pytest.approx([math.log(2)])


def test_registry_lists_the_attacks_with_teaching_text():
    assert attacks()[:4] == ["top-k", "mass-center", "targeted", "target-map"]
    assert set(attacks()) >= {"random-sign", "pgd"}
    for name in attacks():
        spec = get_attack(name)
        assert spec.kind in KINDS and spec.title and len(spec.description) > 60
        assert any(year in spec.description for year in ("2015", "2018", "2019"))
    with pytest.raises(ConfigError, match="unknown attack 'nope'.*top-k.*pgd"):
        get_attack("nope")
