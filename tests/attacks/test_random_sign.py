"""The random-sign baseline: +-eps on every pixel, seeded, never the global RNG.

As in the authors' code, the default draws afresh every step and keeps the best
label-keeping draw by the compared attack's criterion; draws="single" is one draw.
"""

import torch

from fragility.attacks import attack

from .models import Pinned, positive_images


def test_every_pixel_moves_by_exactly_eps_inside_the_box(images, cnn):
    eps = 8 / 255
    inner = eps + images * (1 - 2 * eps)   # all pixels at least eps away from 0 and 1
    result = attack(cnn, inner, attack="random-sign", epsilon=eps, k=20, steps=4)
    assert result.found.all()
    assert torch.allclose((result.perturbed - inner).abs(), torch.full_like(inner, eps), atol=1e-12)
    signs = torch.sign(result.perturbed - inner)
    assert 0.4 < float((signs > 0).double().mean()) < 0.6


def test_clipped_to_the_unit_box(images, cnn):
    result = attack(cnn, torch.ones_like(images), attack="random-sign", epsilon=0.1, k=20, steps=2)
    assert result.perturbed.max() == 1.0 and result.perturbed.min() == 0.9


def test_seeded_and_leaves_the_global_rng_alone(images, cnn):
    net = cnn   # (building the fixture seeds the global RNG itself)
    state = torch.get_rng_state()
    first = attack(net, images, attack="random-sign", seed=1, k=20, steps=3)
    assert torch.equal(torch.get_rng_state(), state)
    again = attack(cnn, images, attack="random-sign", seed=1, k=20, steps=3)
    other = attack(cnn, images, attack="random-sign", seed=2, k=20, steps=3)
    assert torch.equal(first.perturbed, again.perturbed)
    assert not torch.equal(first.perturbed, other.perturbed)
    assert first.config["seed"] == 1 and first.surrogate.startswith("none")


def test_keeps_the_best_draw_by_its_criterion(images, cnn):
    result = attack(cnn, images, attack="random-sign", k=20, steps=6, seed=4)
    assert len(result.history) == 6 and result.steps_run == 6
    assert result.config["draws"] == "every-step" and result.config["criterion"] == "top-k"
    for i in range(3):
        kept = [row["current_dissimilarity"][i] for row in result.history if row["current_labels_kept"][i]]
        assert len(kept) > 1 and len(set(kept)) > 1   # the draws differ
        assert result.metrics["dissimilarity"][i].item() == max(kept)
    # The dissimilarity of the kept draw is the top-k attack's: minus the perturbed map's
    # mass on the original top-k pixels.
    top = result.original_maps.flatten(1).topk(20, dim=1).indices
    mass = result.perturbed_maps.flatten(1).gather(1, top).sum(dim=1)
    assert torch.allclose(result.metrics["dissimilarity"], -mass)
    # More draws can only do better (the same seed replays the first draws).
    fewer = attack(cnn, images, attack="random-sign", k=20, steps=2, seed=4)
    assert (result.metrics["dissimilarity"] >= fewer.metrics["dissimilarity"]).all()


def test_mass_center_criterion_picks_the_largest_center_shift(images, cnn):
    result = attack(cnn, images, attack="random-sign", k=20, steps=5, criterion="mass-center")
    for i in range(3):
        shifts = [row["current_center_shift"][i] for row in result.history if row["current_labels_kept"][i]]
        assert abs(result.metrics["center_shift"][i].item() - max(shifts)) < 1e-9
    assert torch.allclose(result.metrics["dissimilarity"], result.metrics["center_shift"])


def test_a_single_draw_is_an_option(images, cnn):
    single = attack(cnn, images, attack="random-sign", k=20, steps=50, draws="single", seed=3)
    assert single.steps_run == 1 and len(single.history) == 1
    best = attack(cnn, images, attack="random-sign", k=20, steps=50, seed=3)
    assert (best.metrics["dissimilarity"] >= single.metrics["dissimilarity"]).all()
    assert (best.metrics["dissimilarity"] > single.metrics["dissimilarity"]).any()


def test_not_found_when_every_draw_changes_the_label():
    images = positive_images(n=1)
    result = attack(Pinned(images), images, attack="random-sign", epsilon=0.1, k=5, steps=8)
    assert not any(row["current_labels_kept"][0] for row in result.history)
    assert not result.found.any() and torch.equal(result.perturbed, images)
    assert result.labels_kept.all()   # the original stands in, with its own label
    assert result.summary()["found"] == [False]


def _setting(cnn, images, **values):
    """The Setting of a random-sign run on `images`, for looking at its candidates."""
    from fragility.attacks.api import _check_values
    from fragility.attacks.registry import get_attack
    from fragility.attacks.setting import Setting
    from fragility.explainers import get_method

    spec = get_attack("random-sign")
    checked = _check_values(spec, values, *images.shape[-2:])
    return Setting(cnn, get_method("gradient"), {}, images, None, checked, {})


def test_the_walk_is_cumulative_inside_the_eps_ball_and_the_unit_box(images, cnn):
    from fragility.attacks.random_sign import candidates

    eps, alpha = 8 / 255, 1 / 255
    walk = list(candidates(_setting(cnn, images, draws="walk", epsilon=eps, step_size=alpha, steps=40, seed=2)))
    assert len(walk) == 40
    previous = images
    for x in walk:
        assert (x - images).abs().max() <= eps + 1e-12 and x.min() >= 0 and x.max() <= 1
        assert (x - previous).abs().max() <= alpha + 1e-12      # one alpha step from the last
        previous = x
    # Cumulative: it gets further than one step, and each iterate moves on from the previous.
    assert (walk[-1] - images).abs().max() > 4 * alpha
    away = (walk[-1] - images).abs()
    assert float((away > 2 * alpha).double().mean()) > 0.3
    # Inside the box and the ball every pixel moved by exactly alpha from the previous iterate.
    inner = (walk[-2] - images).abs() < eps - alpha
    inner &= (walk[-2] > alpha) & (walk[-2] < 1 - alpha)
    assert inner.any()
    assert torch.allclose((walk[-1] - walk[-2]).abs()[inner], torch.full_like(walk[-1][inner], alpha))


def test_the_walk_is_seeded_and_the_attack_keeps_its_best_iterate(images, cnn):
    first = attack(cnn, images, attack="random-sign", draws="walk", k=20, steps=5, seed=7)
    again = attack(cnn, images, attack="random-sign", draws="walk", k=20, steps=5, seed=7)
    other = attack(cnn, images, attack="random-sign", draws="walk", k=20, steps=5, seed=8)
    assert torch.equal(first.perturbed, again.perturbed)
    assert not torch.equal(first.perturbed, other.perturbed)
    assert first.config["draws"] == "walk" and first.config["step_size"] == 1 / 255
    assert (first.perturbed - images).abs().max() <= 5 / 255 + 1e-12   # 5 steps of 1/255
    for i in range(3):
        kept = [row["current_dissimilarity"][i] for row in first.history if row["current_labels_kept"][i]]
        assert first.metrics["dissimilarity"][i].item() == max(kept)


def test_corner_draws_are_not_cumulative(images, cnn):
    from fragility.attacks.random_sign import candidates

    eps = 8 / 255
    inner = eps + images * (1 - 2 * eps)
    for x in candidates(_setting(cnn, inner, draws="every-step", epsilon=eps, steps=3)):
        assert torch.allclose((x - inner).abs(), torch.full_like(inner, eps), atol=1e-12)
