"""Sanity checks by parameter randomisation (Adebayo et al., 2018)."""

import copy
import json

import pytest
import torch
from torch import nn

import fragility as fg
from fragility.explainers import get_method, methods
from fragility.sanity import (_layer_seeds, cascading_randomization, independent_randomization,
                              parameterised_layers, randomize)
from nets import FunctionalCNN, make_cnn
from test_no_leftovers import assert_untouched, make_model, snapshot

SMALL_OPTIONS = {"steps": 3, "samples": 3}   # keep IG and SmoothGrad cheap


def small_options(method):
    return {key: value for key, value in SMALL_OPTIONS.items() if key in get_method(method).options}


def test_layers_are_the_parameterised_modules_in_order(cnn, functional_cnn):
    assert parameterised_layers(cnn) == ["0", "2", "6"]
    assert parameterised_layers(functional_cnn) == ["conv1", "conv2", "conv3", "fc"]
    assert parameterised_layers(make_model()) == ["0", "1", "4", "8"]   # BatchNorm included


def test_shapes_order_and_original_maps(cnn, images):
    result = cascading_randomization(cnn, images)
    assert result.layers == ["6", "2", "0"]            # from the logits layer down
    assert torch.equal(result.original_maps, fg.explain(cnn, images, "gradient"))
    assert torch.equal(result.labels, cnn(images).argmax(dim=1))
    assert len(result.maps) == 3 and all(maps.shape == (3, 16, 16) for maps in result.maps)
    assert set(result.metrics) == {"spearman", "ssim", "top_k_intersection"}
    assert all(value.shape == (3, 3) for value in result.metrics.values())
    assert result.config["k"] == round(0.05 * 16 * 16)
    json.dumps(result.config)
    json.dumps(result.summary())


def test_metrics_compare_each_step_with_the_original(cnn, images):
    result = cascading_randomization(cnn, images, k=10)
    for step, maps in enumerate(result.maps):
        assert torch.equal(result.metrics["spearman"][step], fg.metrics.spearman(result.original_maps, maps))
        assert torch.equal(result.metrics["ssim"][step], fg.metrics.ssim(result.original_maps, maps))
        assert torch.equal(result.metrics["top_k_intersection"][step],
                           fg.metrics.top_k_intersection(result.original_maps, maps, 10))


@pytest.mark.parametrize("make", [make_cnn, lambda: FunctionalCNN().double().eval()])
def test_gradient_maps_lose_their_ranking_once_every_layer_is_random(make, images):
    # Over 20 nets x 2 seeds the fully random |spearman| stayed below 0.38 per image.
    result = cascading_randomization(make(), images)
    assert (result.metrics["spearman"][-1].abs() < 0.5).all()
    assert (result.metrics["top_k_intersection"][-1] < 0.5).all()


def test_a_layer_reset_to_its_own_init_changes_nothing(images):
    # A fresh BatchNorm in eval mode is at its init: "randomising" it is the identity,
    # so every similarity must be exactly perfect (the metrics are not trivially low).
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.Flatten(), nn.Linear(4 * 16 * 16, 5)).double().eval()
    result = cascading_randomization(net, images, layers=["1"])
    assert result.layers == ["1"]
    assert torch.allclose(result.maps[0], result.original_maps, rtol=0, atol=1e-15)
    assert torch.allclose(result.metrics["spearman"][0], torch.ones(3, dtype=torch.float64))
    assert torch.equal(result.metrics["top_k_intersection"][0], torch.ones(3, dtype=torch.float64))


def test_the_original_class_stays_the_explained_one(images):
    # A linear model: the gradient of class c is its weight row, so after randomising the
    # one layer the map is |new weight row of the ORIGINAL label| summed over channels.
    torch.manual_seed(3)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 5)).double().eval()
    labels = net(images).argmax(dim=1)
    result = cascading_randomization(net, images, seed=7)
    random_net = copy.deepcopy(net)
    randomize(random_net[1], _layer_seeds(7, 1)[0])
    assert not torch.equal(random_net(images).argmax(dim=1), labels)   # the prediction moved
    rows = random_net[1].weight.detach()[labels].reshape(3, 3, 16, 16)
    expected = rows.abs().sum(dim=1) / rows.abs().sum(dim=(1, 2, 3)).reshape(3, 1, 1)
    assert torch.allclose(result.maps[0], expected, rtol=1e-12, atol=0)
    assert torch.equal(result.labels, labels)


def test_same_seed_same_result_other_seed_other_weights(cnn, images):
    first = cascading_randomization(cnn, images, seed=3)
    again = cascading_randomization(cnn, images, seed=3)
    other = cascading_randomization(cnn, images, seed=4)
    assert all(torch.equal(a, b) for a, b in zip(first.maps, again.maps))
    assert all(torch.equal(first.metrics[name], again.metrics[name]) for name in first.metrics)
    assert not torch.equal(first.maps[-1], other.maps[-1])


def test_global_random_state_is_untouched(cnn, images):
    state = torch.get_rng_state()
    cascading_randomization(cnn, images)
    assert torch.equal(torch.get_rng_state(), state)


def test_a_layer_gets_the_same_random_weights_in_both_modes_and_in_any_subset(cnn, images):
    cascade = cascading_randomization(cnn, images, seed=5)
    independent = independent_randomization(cnn, images, seed=5)
    only_top = cascading_randomization(cnn, images, seed=5, layers=["6"])
    assert independent.layers == cascade.layers == ["6", "2", "0"]
    # Step 1 randomises only the top layer in all three.
    assert torch.equal(independent.maps[0], cascade.maps[0])
    assert torch.equal(only_top.maps[0], cascade.maps[0])
    # Independent: the lower layer alone, the top one restored, so it differs from the cascade.
    assert not torch.equal(independent.maps[1], cascade.maps[1])
    assert independent.config["mode"] == "independent"


def test_independent_restores_each_layer_before_the_next(cnn, images):
    independent = independent_randomization(cnn, images, seed=5)
    bottom_only = cascading_randomization(cnn, images, seed=5, layers=["0"])
    assert torch.equal(independent.maps[-1], bottom_only.maps[0])


def test_given_layers_run_from_the_top_down_in_any_order(functional_cnn, images):
    result = cascading_randomization(functional_cnn, images, layers=["conv1", "fc"])
    assert result.layers == ["fc", "conv1"]


def test_callback_sees_each_step_and_can_stop(cnn, images):
    rows = []

    def callback(step, row):
        rows.append((step, row))
        return step < 2

    result = cascading_randomization(cnn, images, callback=callback)
    assert [step for step, _ in rows] == [1, 2]
    assert rows[0][1]["layer"] == "6" and rows[1][1]["layer"] == "2"
    assert rows[1][1]["spearman"] == result.metrics["spearman"][1].tolist()
    assert torch.equal(rows[1][1]["maps"], result.maps[1])
    assert result.stopped_early and result.layers == ["6", "2"] and len(result.maps) == 2
    assert result.metrics["ssim"].shape == (2, 3)


def test_a_missing_layer_is_a_config_error_listing_the_valid_ones(cnn, images):
    with pytest.raises(fg.ConfigError, match=r"'7'.*0, 2, 6"):
        cascading_randomization(cnn, images, layers=["7"])
    with pytest.raises(fg.ConfigError, match="'1'"):   # a ReLU: no parameters of its own
        cascading_randomization(cnn, images, layers=["1"])
    with pytest.raises(fg.ConfigError):
        cascading_randomization(cnn, images, layers="6")
    with pytest.raises(fg.ConfigError):
        cascading_randomization(cnn, images, layers=[])
    with pytest.raises(fg.ConfigError):
        cascading_randomization(cnn, images, layers=["6", "6"])


def test_bad_configuration_is_refused(cnn, images):
    with pytest.raises(fg.ConfigError, match="'saliency'.*gradient"):
        cascading_randomization(cnn, images, method="saliency")
    with pytest.raises(fg.ConfigError, match="steps"):
        cascading_randomization(cnn, images, method_options={"steps": 3})
    with pytest.raises(fg.ConfigError, match="seed"):
        cascading_randomization(cnn, images, seed=-1)
    with pytest.raises(fg.ConfigError, match="k"):
        cascading_randomization(cnn, images, k=0)
    with pytest.raises(fg.ConfigError, match="callback"):
        cascading_randomization(cnn, images, callback=3)
    with pytest.raises(fg.ConfigError, match="no layers with parameters"):
        cascading_randomization(nn.Flatten(), images)
    with pytest.raises(fg.InputError):
        cascading_randomization(cnn, images * 2)


@pytest.mark.parametrize("method", methods())
def test_every_method_runs_and_leaves_the_model_untouched(method, images):
    model = make_model()            # training mode, BatchNorm and Dropout
    before = snapshot(model)
    originals = images.clone()
    result = cascading_randomization(model, images, method=method, method_options=small_options(method))
    assert_untouched(model, before)
    assert torch.equal(images, originals)
    assert result.layers == ["8", "4", "1", "0"]
    assert torch.equal(result.original_maps,
                       fg.explain(model, images, method, **small_options(method)))
    for maps in result.maps:
        assert maps.shape == (3, 16, 16) and torch.isfinite(maps).all()
        assert torch.allclose(maps.sum(dim=(1, 2)), torch.ones(3, dtype=torch.float64))


def test_a_stopped_or_failing_run_leaves_the_model_untouched(cnn, images):
    before = snapshot(cnn)
    cascading_randomization(cnn, images, callback=lambda step, row: False)
    assert_untouched(cnn, before)

    def failing(step, row):
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        cascading_randomization(cnn, images, method="gradcam", callback=failing)
    assert_untouched(cnn, before)


def test_guided_backprop_ignores_the_top_layer_and_gradient_does_not():
    # Adebayo et al.'s finding on the trained bundled model: randomising the logits layer
    # barely changes guided backprop's maps but does change the gradient's. Seeds 0-4 on
    # the 12 shape samples: guided >= 0.92, gradient <= 0.71, fully random gradient <= 0.29.
    model = fg.load_model("bundled", device="cpu")
    images = torch.stack([sample.load(model.input_size) for sample in fg.samples()
                          if sample.kind == "synthetic"][:4])
    top_two = parameterised_layers(model)[-2:]
    gradient = cascading_randomization(model, images, "gradient", layers=top_two)
    guided = cascading_randomization(model, images, "guided-backprop", layers=top_two)
    assert guided.metrics["spearman"][0].mean() > 0.8
    assert gradient.metrics["spearman"][0].mean() < guided.metrics["spearman"][0].mean() - 0.2
    full = cascading_randomization(model, images, "gradient")
    assert full.metrics["spearman"][-1].mean() < 0.5
