"""The random-sign baseline: +-eps on every pixel, seeded, never the global RNG."""

import torch

from fragility.attacks import attack


def test_every_pixel_moves_by_exactly_eps_inside_the_box(images, cnn):
    eps = 8 / 255
    inner = eps + images * (1 - 2 * eps)   # all pixels at least eps away from 0 and 1
    result = attack(cnn, inner, attack="random-sign", epsilon=eps, k=20)
    assert torch.allclose((result.perturbed - inner).abs(), torch.full_like(inner, eps), atol=1e-12)
    signs = torch.sign(result.perturbed - inner)
    assert 0.4 < float((signs > 0).double().mean()) < 0.6


def test_clipped_to_the_unit_box(images, cnn):
    result = attack(cnn, torch.ones_like(images), attack="random-sign", epsilon=0.1, k=20)
    assert result.perturbed.max() == 1.0 and result.perturbed.min() == 0.9


def test_seeded_and_leaves_the_global_rng_alone(images, cnn):
    net = cnn   # (building the fixture seeds the global RNG itself)
    state = torch.get_rng_state()
    first = attack(net, images, attack="random-sign", seed=1, k=20)
    assert torch.equal(torch.get_rng_state(), state)
    again = attack(cnn, images, attack="random-sign", seed=1, k=20)
    other = attack(cnn, images, attack="random-sign", seed=2, k=20)
    assert torch.equal(first.perturbed, again.perturbed)
    assert not torch.equal(first.perturbed, other.perturbed)
    assert first.config["seed"] == 1 and first.surrogate.startswith("none")


def test_metrics_are_measured_like_the_other_attacks(images, cnn):
    result = attack(cnn, images, attack="random-sign", k=20)
    assert len(result.history) == 1 and result.steps_run == 1
    for name in ("spearman", "top_k_intersection", "center_shift", "pearson", "ssim", "dissimilarity"):
        assert result.metrics[name].shape == (3,)
    top = result.original_maps.flatten(1).topk(20, dim=1).indices
    mass = result.perturbed_maps.flatten(1).gather(1, top).sum(dim=1)
    assert torch.allclose(result.metrics["dissimilarity"], -mass)
