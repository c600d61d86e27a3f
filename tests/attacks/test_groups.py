"""Attack steps split the batch into groups of images: same results, bounded passes."""

import pytest
import torch

from fragility.attacks import attack, setting
from fragility.explainers import get_method

HUGE = 10 ** 6
OPTIONS = {"integrated-gradients": {"steps": 4}, "smoothgrad": {"samples": 3}}


def region_and_target(size=16):
    quarter = torch.zeros(size, size, dtype=torch.bool)
    quarter[: size // 2, : size // 2] = True
    return {"region": quarter, "target_map": quarter.double()}


def run(net, images, budget, monkeypatch, method="gradient", name="top-k"):
    """attack() under the budget, with the history rows its callback saw and the batch sizes
    the network was given."""
    monkeypatch.setattr(setting, "POINTS_PER_PASS", budget)
    seen, rows = [], []
    hook = net.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape[0]))
    try:
        result = attack(net, images, method=method, attack=name, steps=3, k=20, epsilon=0.05,
                        step_size=0.01, method_options=OPTIONS.get(method), callback=lambda step, row: rows.append(
                            {key: value for key, value in row.items() if not key.startswith("perturbed")}),
                        **region_and_target())
    finally:
        hook.remove()
    return result, rows, seen


def assert_same(grouped, whole):
    close = dict(rtol=1e-10, atol=1e-12)
    for name in ("perturbed", "original_maps", "perturbed_maps"):
        torch.testing.assert_close(getattr(grouped, name), getattr(whole, name), **close)
    assert torch.equal(grouped.labels, whole.labels)
    assert torch.equal(grouped.perturbed_labels, whole.perturbed_labels)
    assert grouped.metrics.keys() == whole.metrics.keys()
    for name in whole.metrics:
        torch.testing.assert_close(grouped.metrics[name], whole.metrics[name], **close)
    assert grouped.steps_run == whole.steps_run
    assert len(grouped.history) == whole.steps_run
    assert_same_rows(grouped.history, whole.history)


def assert_same_rows(grouped, whole):
    assert len(grouped) == len(whole)
    for ours, theirs in zip(grouped, whole):
        assert ours.keys() == theirs.keys()
        for key in theirs:
            torch.testing.assert_close(torch.tensor(ours[key]), torch.tensor(theirs[key]),
                                       rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", ["gradient", "integrated-gradients", "deeplift"])
def test_groups_of_one_image_give_the_whole_batch_result(method, cnn, images, monkeypatch):
    grouped, grouped_rows, grouped_seen = run(cnn, images, 1, monkeypatch, method)
    whole, whole_rows, whole_seen = run(cnn, images, HUGE, monkeypatch, method)
    assert_same(grouped, whole)
    assert_same_rows(grouped_rows, whole_rows)
    points = get_method(method).points(OPTIONS.get(method, {}))
    assert max(grouped_seen) == points                      # one image (all its points) per pass
    assert max(whole_seen) == len(images) * points           # the whole batch in one pass


@pytest.mark.parametrize("name", ["targeted", "target-map", "mass-center"])
def test_each_group_is_compared_with_its_own_reference(name, cnn, images, monkeypatch):
    # Groups of 2 and 1 image: a group's region, target map, logits and map must be its own.
    grouped, _, _ = run(cnn, images, 2, monkeypatch, "gradient", name)
    whole, _, _ = run(cnn, images, HUGE, monkeypatch, "gradient", name)
    assert_same(grouped, whole)


def test_budget_sets_whole_images_per_pass(cnn, images, monkeypatch):
    # IG with 4 points per image and 9 points per pass: 2 images per pass, the last one alone.
    _, _, seen = run(cnn, images, 9, monkeypatch, "integrated-gradients")
    assert set(seen) == {8, 4}


def test_smoothgrad_is_never_split(cnn, images, monkeypatch):
    # Its noise is drawn for the whole batch at once, so splitting would change its maps.
    grouped, _, seen = run(cnn, images, 1, monkeypatch, "smoothgrad")
    whole, _, _ = run(cnn, images, HUGE, monkeypatch, "smoothgrad")
    assert_same(grouped, whole)
    assert set(seen) == {len(images) * 4}
