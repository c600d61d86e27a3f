"""Stochastic methods are scored with noise independent of the noise the attack optimised."""

from dataclasses import replace

import pytest
import torch

import fragility as fg
from fragility.explainers import registry
from fragility.explainers.registry import scoring_seed

OPTIONS = {"samples": 4, "sigma": 0.2, "seed": 7}


def test_smoothgrad_maps_are_rescored_with_fresh_noise(cnn, images):
    result = fg.attack(cnn, images, method="smoothgrad", steps=3, k=20, method_options=OPTIONS)
    scoring = result.config["scoring_options"]
    assert scoring["seed"] == scoring_seed(7) != 7
    assert result.config["method_options"]["seed"] == 7
    # The reported maps are what an independent explanation with the scoring noise gives.
    torch.testing.assert_close(result.original_maps, fg.explain(cnn, images, "smoothgrad", **OPTIONS))
    torch.testing.assert_close(result.perturbed_maps,
                               fg.explain(cnn, result.perturbed, "smoothgrad", **scoring))
    torch.testing.assert_close(result.metrics["spearman"],
                               fg.metrics.spearman(result.original_maps, result.perturbed_maps))


def test_no_perturbation_shows_the_noise_floor(cnn, images):
    result = fg.attack(cnn, images, method="smoothgrad", steps=0, k=20, method_options=OPTIONS)
    assert torch.equal(result.perturbed, images) and not result.found.any()
    fresh = fg.explain(cnn, images, "smoothgrad", **{**OPTIONS, "seed": scoring_seed(7)})
    floor = fg.metrics.top_k_intersection(result.original_maps, fresh, 20)
    torch.testing.assert_close(result.noise_floor["top_k_intersection"], floor)
    torch.testing.assert_close(result.metrics["top_k_intersection"], floor)
    assert (floor < 1).all()       # with 4 noisy samples the same image gives another map
    assert set(result.noise_floor) == {"spearman", "top_k_intersection", "center_shift"}


def test_deterministic_methods_have_no_noise_floor(cnn, images):
    result = fg.attack(cnn, images, method="gradient", steps=0, k=20)
    assert result.noise_floor is None and "scoring_options" not in result.config
    assert (result.metrics["top_k_intersection"] == 1).all() and (result.metrics["spearman"] == 1).all()


def test_the_attack_gradient_uses_the_method_noise(cnn, images, monkeypatch):
    seen = []
    method = fg.get_method("smoothgrad")

    def spy(model, x, target=None, *, create_graph=False, **options):
        seen.append((create_graph, options["seed"]))
        return method.fn(model, x, target, create_graph=create_graph, **options)

    monkeypatch.setitem(registry.METHODS._entries, "smoothgrad", replace(method, fn=spy))
    fg.attack(cnn, images, method="smoothgrad", steps=2, k=20, method_options=OPTIONS)
    assert {seed for graph, seed in seen if graph} == {7}                       # optimised against
    assert {seed for graph, seed in seen if not graph} == {7, scoring_seed(7)}  # original, scored


@pytest.mark.parametrize("target", [0, 3])
def test_explains_the_chosen_class_and_keeps_the_predicted_label(cnn, images, target):
    result = fg.attack(cnn, images, steps=2, k=20, target=target)
    torch.testing.assert_close(result.original_maps, fg.explain(cnn, images, "gradient", target=target))
    assert torch.equal(result.labels, cnn(images).argmax(1))
    assert result.config["target"] == [target] * 3
