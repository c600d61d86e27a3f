"""The influence attack: Algorithm 1's guarantees, its metrics, its baseline, and the paper's
claim on the bundled model (it moves the most helpful training examples more than random
sign noise of the same size, with the label kept)."""

from __future__ import annotations

import json

import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

import fragility as fg
from fragility.influence import top_k_influence
from nets import make_cnn


def data(seed: int = 0, n_train: int = 30, n_test: int = 3, classes: int = 5, size: int = 8):
    generator = torch.Generator().manual_seed(seed)
    train = torch.rand(n_train, 3, size, size, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, classes, (n_train,), generator=generator)
    test = torch.rand(n_test, 3, size, size, generator=generator, dtype=torch.float64)
    return train, labels, test


@pytest.fixture(scope="module")
def run():
    net = make_cnn(seed=1)
    train, labels, test = data()
    rows = []
    result = fg.influence_attack(net, test, train, labels, epsilon=8 / 255, steps=12, step_size=1 / 255,
                                 k=4, callback=lambda step, row: rows.append(row))
    return net, train, labels, test, result, rows


def test_perturbation_stays_in_the_ball_and_keeps_the_label(run):
    net, train, labels, test, result, _ = run
    assert (result.perturbed - test).abs().max() <= 8 / 255 + 1e-12
    assert result.perturbed.min() >= 0 and result.perturbed.max() <= 1
    assert bool(result.found.all()), "expected the attack to find label-keeping iterates here"
    assert torch.equal(result.labels, net(test).argmax(dim=1))
    assert torch.equal(net(result.perturbed).argmax(dim=1), result.labels)
    assert bool(result.labels_kept.all())


def test_scores_and_metrics_mean_what_they_say(run):
    net, train, labels, test, result, _ = run
    torch.testing.assert_close(result.original_scores, fg.influence_scores(net, test, train, labels))
    # scores at the perturbed image are taken at the original label, which it kept
    torch.testing.assert_close(result.perturbed_scores, fg.influence_scores(net, result.perturbed, train, labels))
    for i in range(len(test)):
        before, after = result.original_scores[i].numpy(), result.perturbed_scores[i].numpy()
        assert result.metrics["spearman"][i].item() == pytest.approx(spearmanr(before, after).statistic, abs=1e-12)
        top_before = set(before.argsort()[-4:].tolist())
        top_after = set(after.argsort()[-4:].tolist())
        assert result.metrics["top_k_intersection"][i].item() == len(top_before & top_after) / 4
        helpful = torch.as_tensor(before.argsort()[-4:].copy())
        unit_before = before / (before ** 2).sum() ** 0.5
        unit_after = after / (after ** 2).sum() ** 0.5
        assert result.metrics["top_k_influence_before"][i].item() == pytest.approx(unit_before[helpful].sum())
        assert result.metrics["top_k_influence_after"][i].item() == pytest.approx(unit_after[helpful].sum())
    assert bool((result.metrics["top_k_influence_after"] < result.metrics["top_k_influence_before"]).all())


def test_history_and_callback_rows(run):
    _, _, _, _, result, rows = run
    attack_rows = [row for row in rows if row["run"] == "attack"]
    random_rows = [row for row in rows if row["run"] == "random-sign"]
    assert [row["step"] for row in attack_rows] == list(range(1, 13)) == [row["step"] for row in random_rows]
    assert all(isinstance(row["perturbed"], torch.Tensor) and row["perturbed_scores"].shape == (3, 30)
               for row in rows)
    assert len(result.history) == 12 and len(result.baseline.history) == 12
    best = [row["top_k_influence"] for row in result.history]
    for image in range(3):   # the best so far never gets worse; the last one is the result
        values = [row[image] for row in best]
        assert all(later <= earlier for earlier, later in zip(values, values[1:]))
        assert values[-1] == pytest.approx(result.metrics["top_k_influence_after"][image].item())
    for record in (result.history, result.config, result.summary()):
        json.dumps(record)


def test_random_sign_baseline_draws_full_size_noise(run):
    _, _, _, test, result, _ = run
    baseline = result.baseline
    assert baseline.baseline is None and baseline.config["attack"] == "random-sign"
    assert baseline.steps_run == result.steps_run == 12
    found = baseline.found
    drawn, original = baseline.perturbed[found], test[found]
    # each pixel moved by +eps or -eps, cut short only by the [0,1] clipping
    up, down = (original + 8 / 255).clamp(0, 1), (original - 8 / 255).clamp(0, 1)
    assert bool((torch.isclose(drawn, up) | torch.isclose(drawn, down)).all())
    assert bool((drawn != original).all())
    assert bool(baseline.labels_kept.all())
    assert "random_sign" in result.summary() and result.summary()["random_sign"]["found"] == baseline.found.tolist()


def test_the_papers_single_step_moves_every_pixel_by_the_full_budget():
    # Ghorbani et al.'s influence attack: one signed step of size eps (steps=1, step_size=eps).
    net = make_cnn(seed=1)
    train, labels, test = data()
    result = fg.influence_attack(net, test, train, labels, epsilon=8 / 255, steps=1, step_size=8 / 255, k=4)
    assert result.steps_run == 1 and len(result.history) == 1 and result.baseline.steps_run == 1
    assert result.config["steps"] == 1 and result.config["step_size"] == result.config["epsilon"]
    assert bool(result.found.any())
    moved, original = result.perturbed[result.found], test[result.found]
    up, down = (original + 8 / 255).clamp(0, 1), (original - 8 / 255).clamp(0, 1)
    assert bool((torch.isclose(moved, up) | torch.isclose(moved, down)).all())
    kept = result.found
    assert bool((result.metrics["top_k_influence_after"][kept] < result.metrics["top_k_influence_before"][kept]).all())


def test_the_result_says_how_much_the_damping_sets_the_ranking(run):
    net, train, labels, test, result, _ = run
    expected = fg.damping_sensitivity(net, test, train, labels)
    assert set(result.damping_sensitivity) == {"tenth", "tenfold"}
    for name, value in expected.items():
        torch.testing.assert_close(result.damping_sensitivity[name], value)
    assert result.summary()["damping_sensitivity"]["tenth"] == expected["tenth"].tolist()
    config = result.config
    assert config["hessian_images"] == 30 and config["theta_size"] == 5 * 129
    assert config["damping_absolute"] == pytest.approx(config["damping"] * config["mean_eigenvalue"])
    assert 0 <= config["eigenvalues_below_damping"] <= config["theta_size"]


def test_a_separate_hessian_sample_is_used_and_recorded():
    net = make_cnn(seed=2)
    train, labels, test = data(1)
    sample, _, _ = data(5, n_train=50)
    result = fg.influence_attack(net, test, train, labels, steps=2, k=3, hessian_images=sample)
    assert result.config["hessian_images"] == 50
    torch.testing.assert_close(result.original_scores,
                               fg.influence_scores(net, test, train, labels, hessian_images=sample))


def test_same_config_same_result():
    net = make_cnn(seed=2)
    train, labels, test = data(1)
    first = fg.influence_attack(net, test, train, labels, steps=4, k=3, seed=7)
    second = fg.influence_attack(net, test, train, labels, steps=4, k=3, seed=7)
    assert torch.equal(first.perturbed, second.perturbed)
    assert torch.equal(first.baseline.perturbed, second.baseline.perturbed)


def test_nothing_found_means_the_original_image():
    net = make_cnn(seed=3)
    train, labels, test = data(2)
    result = fg.influence_attack(net, test, train, labels, epsilon=0.0, steps=3, k=3)
    assert not bool(result.found.any()) and not bool(result.baseline.found.any())
    assert torch.equal(result.perturbed, test) and torch.equal(result.perturbed_scores, result.original_scores)
    assert bool((result.metrics["top_k_intersection"] == 1).all())
    none = fg.influence_attack(net, test, train, labels, steps=0, k=3)
    assert none.steps_run == 0 and none.history == [] and none.baseline.history == []
    assert not bool(none.found.any())


def test_stop_keeps_the_best_so_far_and_still_runs_the_baseline():
    net = make_cnn(seed=4)
    train, labels, test = data(3)
    seen = []

    def stop_at_three(step, row):
        seen.append((row["run"], step))
        return step < 3
    result = fg.influence_attack(net, test, train, labels, steps=50, k=3, callback=stop_at_three)
    assert result.stopped_early and result.steps_run == 3 and len(result.history) == 3
    assert seen == [("attack", 1), ("attack", 2), ("attack", 3)]     # no rows after Stop
    assert result.baseline.steps_run == 3 and not result.baseline.stopped_early


def test_the_attack_leaves_the_model_as_it_was():
    from test_no_leftovers import Exploding, assert_untouched, make_model, snapshot

    model = make_model()
    before = snapshot(model)
    train, labels, test = data(4, size=6)
    fg.influence_attack(model, test, train, labels, steps=2, k=3)
    assert_untouched(model, before)
    exploding = Exploding(model, after=4)
    with pytest.raises(RuntimeError, match="midway"):
        fg.influence_attack(exploding, test, train, labels, steps=5, k=3)
    assert_untouched(model, before)


@pytest.mark.parametrize("arguments, error, message", [
    (dict(k=31), fg.ConfigError, "k \\(number of top features\\) must be <= 30"),
    (dict(epsilon=2.0), fg.ConfigError, "epsilon must be <= 1"),
    (dict(steps=-1), fg.ConfigError, "steps must be >= 0"),
    (dict(step_size=0), fg.ConfigError, "step_size must be > 0"),
    (dict(gamma=-1), fg.ConfigError, "gamma must be >= 0"),
    (dict(callback="print"), fg.ConfigError, "callback must be callable"),
])
def test_bad_settings_are_named(arguments, error, message):
    train, labels, test = data(5)
    with pytest.raises(error, match=message):
        fg.influence_attack(make_cnn(), test, train, labels, **arguments)


def test_images_out_of_range_are_refused():
    train, labels, test = data(6)
    with pytest.raises(fg.InputError, match="images must have values in \\[0,1\\]"):
        fg.influence_attack(make_cnn(), test * 2, train, labels)
    with pytest.raises(fg.InputError, match="train_images"):
        fg.influence_attack(make_cnn(), test, train[:, :2], labels)
    with pytest.raises(fg.ModelError):
        fg.influence_attack(nn.Sequential(nn.Conv2d(3, 5, 8), nn.Flatten()).double(), test, train, labels)


# The paper's claim on the bundled model. Settings that run in seconds on a CPU: the first
# 100 training images, the first 4 sample shapes, 20 steps of 1/255 within eps = 8/255.
BUNDLED = dict(n_train=100, images=4, epsilon=8 / 255, steps=20, step_size=1 / 255, k=5)


def test_on_the_bundled_model_the_attack_moves_the_helpful_examples_more_than_random_sign():
    model = fg.load_model("bundled", device="cpu")
    train, labels = fg.training_set("bundled", n=BUNDLED["n_train"])
    images = torch.stack([sample.load(size=64) for sample in fg.samples("synthetic")[:BUNDLED["images"]]])
    result = fg.influence_attack(model, images, train, labels, epsilon=BUNDLED["epsilon"],
                                 steps=BUNDLED["steps"], step_size=BUNDLED["step_size"], k=BUNDLED["k"])
    random = result.baseline
    assert bool(result.found.all() and result.labels_kept.all())
    assert bool(random.found.all() and random.labels_kept.all())
    assert torch.equal(fg.predict(model, result.perturbed)[0], result.labels)
    overlap, random_overlap = result.metrics["top_k_intersection"], random.metrics["top_k_intersection"]
    assert overlap.mean() < random_overlap.mean() - 0.2
    assert result.metrics["spearman"].mean() < random.metrics["spearman"].mean()
    assert bool((top_k_influence(result.perturbed_scores, result.original_scores.topk(5).indices)
                 < top_k_influence(random.perturbed_scores, result.original_scores.topk(5).indices)).all())
