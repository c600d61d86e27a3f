"""Algorithm 1: sign step, projection, best-iterate rule, callback, determinism."""

import json

import pytest
import torch

from fragility.attacks import attack, attacks

from .models import Pinned, Quadratic, positive_images

EXTRA = {"targeted": "region", "target-map": "target_map"}


def extra_arguments(name, size):
    """The region / target map an attack needs: the top-left quarter of the image."""
    quarter = torch.zeros(size, size, dtype=torch.bool)
    quarter[: size // 2, : size // 2] = True
    if name == "targeted":
        return {"region": quarter}
    if name == "target-map":
        return {"target_map": quarter.double()}
    return {}


def nearly_tied(net, images):
    """`net` with its last bias set so that image 0's top two classes nearly tie."""
    with torch.no_grad():
        logits = net(images[:1])[0]
        first, second = logits.topk(2).indices.tolist()
        net[-1].bias[second] += logits[first] - logits[second] - 1e-3
    return net


def region_signs(images, region):
    """sign(dD/dx) of the targeted attack on `Quadratic`: up inside the region, down outside."""
    return torch.where(region, 1.0, -1.0).to(images.dtype).expand_as(images)


def test_one_step_moves_exactly_alpha_times_the_sign_of_the_gradient():
    # Quadratic model: the map is the channel sum of x, so the mass inside the region
    # rises when pixels inside grow and pixels outside shrink.
    images = positive_images()
    region = torch.zeros(6, 6, dtype=torch.bool)
    region[1:3, 2:5] = True
    alpha = 0.01
    result = attack(Quadratic(), images, attack="targeted", region=region, epsilon=0.1, steps=1, k=5,
                    step_size=alpha)
    assert torch.equal(result.perturbed, images + alpha * region_signs(images, region))


def test_top_k_step_moves_mass_off_the_original_top_k():
    images = positive_images(seed=3)
    k = 7
    maps = images.sum(dim=1).flatten(1)
    top = torch.zeros_like(maps, dtype=torch.bool).scatter_(1, maps.topk(k, dim=1).indices, True)
    signs = torch.where(top.reshape(-1, 1, 6, 6), -1.0, 1.0).to(images.dtype).expand_as(images)
    result = attack(Quadratic(), images, attack="top-k", k=k, epsilon=0.1, steps=1, step_size=0.02)
    assert torch.equal(result.perturbed, images + 0.02 * signs)


def test_best_iterate_is_the_last_one_that_keeps_the_label():
    # Each targeted step lowers s(x) = ||x||^2/2 (most pixels shrink) and raises D; the
    # threshold makes the label flip at step 3, so steps 1-2 keep it and 3-6 do not.
    images = positive_images(n=1)
    region = torch.zeros(6, 6, dtype=torch.bool)
    region[0, 0] = True
    alpha = 0.02
    iterates = [images + t * alpha * region_signs(images, region) for t in range(7)]
    s = [0.5 * float((x ** 2).sum()) for x in iterates]
    assert all(a > b for a, b in zip(s, s[1:]))
    model = Quadratic(threshold=(s[2] + s[3]) / 2)
    result = attack(model, images, attack="targeted", region=region, epsilon=1.0, steps=6, step_size=alpha, k=5)
    assert torch.allclose(result.perturbed, iterates[2], atol=1e-12)
    assert result.labels_kept.tolist() == [True]
    assert [row["current_labels_kept"] for row in result.history] == [[True]] * 2 + [[False]] * 4
    current = [row["current_dissimilarity"][0] for row in result.history]
    assert all(a < b for a, b in zip(current, current[1:]))   # D kept rising after the flip
    assert result.metrics["dissimilarity"].item() == pytest.approx(current[1])
    assert [row["dissimilarity"][0] for row in result.history][1:] == [current[1]] * 5


def test_no_label_keeping_improvement_returns_the_original():
    images = positive_images(n=1)
    region = torch.zeros(6, 6, dtype=torch.bool)
    region[0, 0] = True
    s0 = 0.5 * float((images ** 2).sum())
    model = Quadratic(threshold=s0 - 1e-9)   # the first step already flips the label
    result = attack(model, images, attack="targeted", region=region, epsilon=1.0, steps=4, step_size=0.02, k=5)
    assert torch.equal(result.perturbed, images)
    assert torch.equal(result.perturbed_maps, result.original_maps)
    assert result.labels_kept.tolist() == [True]
    assert result.metrics["spearman"].tolist() == pytest.approx([1.0])


@pytest.mark.parametrize("name", ["top-k", "mass-center", "targeted", "target-map"])
def test_returned_dissimilarity_is_the_max_over_label_keeping_iterates(name, images, cnn):
    net = nearly_tied(cnn, images)
    result = attack(net, images, attack=name, epsilon=1.0, steps=12, step_size=0.1, k=30,
                    **extra_arguments(name, 16))
    flips = 0
    for i in range(3):
        kept = [row["current_dissimilarity"][i] for row in result.history if row["current_labels_kept"][i]]
        flips += len(result.history) - len(kept)
        best = result.metrics["dissimilarity"][i].item()
        assert best >= max(kept, default=-float("inf")) - 1e-12
        if best not in kept:   # no label-keeping iterate beat the original: the original is returned
            assert torch.equal(result.perturbed[i], images[i])
    assert flips > 0   # the large budget flips labels along the way, so the rule was exercised
    assert not torch.equal(result.perturbed, images)
    assert result.labels_kept.all()


@pytest.mark.parametrize("name", attacks())
def test_projection_onto_the_ball_and_the_unit_box(name, images, cnn):
    images = images.clone()
    images[:, :, :3] = 0.0
    images[:, :, -3:] = 1.0
    eps = 6 / 255
    result = attack(cnn, images, attack=name, epsilon=eps, steps=5, step_size=4 / 255, k=20,
                    **extra_arguments(name, 16))
    assert (result.perturbed - images).abs().max() <= eps + 1e-6
    assert result.perturbed.min() >= 0 and result.perturbed.max() <= 1
    assert result.perturbed.shape == images.shape and result.perturbed_maps.shape == (3, 16, 16)
    assert result.steps_run == 5


@pytest.mark.parametrize("name", attacks())
@pytest.mark.parametrize("setting", [{"epsilon": 0.0, "steps": 3}, {"steps": 0}])
def test_no_budget_returns_the_original(name, setting, images, cnn):
    result = attack(cnn, images, attack=name, k=20, **setting, **extra_arguments(name, 16))
    assert torch.equal(result.perturbed, images)
    assert torch.equal(result.perturbed_maps, result.original_maps)
    assert result.labels_kept.all()
    assert torch.allclose(result.metrics["top_k_intersection"], torch.ones(3, dtype=torch.float64))


def test_callback_rows_and_early_stop(images, cnn):
    rows = []

    def callback(step, row):
        rows.append(row)
        assert row["perturbed"].shape == images.shape and row["perturbed_maps"].shape == (3, 16, 16)
        return False if step == 3 else None

    result = attack(cnn, images, steps=10, k=20, callback=callback)
    assert result.steps_run == 3 and result.stopped_early
    assert [row["step"] for row in rows] == [1, 2, 3] and len(result.history) == 3
    assert torch.equal(rows[-1]["perturbed"], result.perturbed)
    assert rows[-1]["dissimilarity"] == result.metrics["dissimilarity"].tolist()
    assert "perturbed" not in result.history[0]
    json.dumps(result.history)
    json.dumps(result.config)
    # A callback that returns something else falsy (None, 0) does not stop the attack.
    full = attack(cnn, images, steps=4, k=20, callback=lambda step, row: 0)
    assert full.steps_run == 4 and not full.stopped_early


def test_history_is_the_same_with_and_without_callback(images, cnn):
    quiet = attack(cnn, images, steps=4, k=20)
    live = attack(cnn, images, steps=4, k=20, callback=lambda step, row: None)
    assert quiet.history == live.history
    assert set(quiet.history[0]) == {"step", "dissimilarity", "spearman", "top_k_intersection", "center_shift",
                                     "labels_kept", "current_dissimilarity", "current_spearman",
                                     "current_top_k_intersection", "current_center_shift",
                                     "current_labels_kept"}
    assert quiet.history[-1]["spearman"] == quiet.metrics["spearman"].tolist()


@pytest.mark.parametrize("name", attacks())
def test_same_seed_same_result(name, images, cnn):
    first = attack(cnn, images, attack=name, steps=3, k=20, seed=5, **extra_arguments(name, 16))
    second = attack(cnn, images, attack=name, steps=3, k=20, seed=5, **extra_arguments(name, 16))
    assert torch.equal(first.perturbed, second.perturbed)
    assert first.history == second.history and first.config == second.config


def test_result_record(images, cnn):
    mask = torch.zeros(16, 16, dtype=torch.bool)
    mask[4:12, 4:12] = True
    result = attack(cnn, images, method="gradient", attack="top-k", steps=2, k=20, beta=5.0, mask=mask)
    assert "softplus(beta=5)" in result.surrogate
    config = result.config
    assert {key: config[key] for key in ("method", "attack", "steps", "k", "beta", "seed")} == {
        "method": "gradient", "attack": "top-k", "steps": 2, "k": 20, "beta": 5.0, "seed": 0}
    assert config["epsilon"] == 8 / 255 and config["surrogate"] == result.surrogate
    for name in ("spearman", "top_k_intersection", "center_shift", "pearson", "ssim", "dissimilarity",
                 "mass_in_mask_before", "mass_in_mask_after"):
        assert result.metrics[name].shape == (3,), name
    assert torch.allclose(result.metrics["mass_in_mask_before"],
                          (result.original_maps * mask).sum(dim=(1, 2)))
    assert torch.equal(result.perturbed_labels, result.labels)
    # Re-running from the recorded config reproduces the run.
    assert "gamma" not in config   # only the attack's own parameters are recorded
    replay = {key: config[key] for key in ("method", "attack", "epsilon", "steps", "step_size", "k",
                                           "beta", "seed")}
    again = attack(cnn, images, mask=config["mask"], method_options=config["method_options"], **replay)
    assert torch.equal(again.perturbed, result.perturbed)


def test_float32_images_on_a_float64_model_and_any_module(images, cnn):
    result = attack(cnn, images.float(), steps=2, k=20)
    assert result.perturbed.dtype == torch.float64
    assert (result.perturbed - images).abs().max() <= 8 / 255 + 1e-6


@pytest.mark.parametrize("name", ["top-k", "targeted", "pgd"])
def test_found_says_whether_any_iterate_was_accepted(name):
    images = positive_images(n=1)
    region = torch.zeros(6, 6, dtype=torch.bool)
    region[:2] = True
    result = attack(Pinned(images), images, attack=name, epsilon=0.1, steps=3, step_size=0.05, k=5,
                    region=region)
    if name == "pgd":      # a label attack succeeds when the label changes
        assert result.found.all() and not result.labels_kept.any()
    else:                  # no iterate keeps the label: the original stands in, not a result
        assert not result.found.any() and torch.equal(result.perturbed, images)
        assert result.summary()["found"] == [False]
