"""Sanity checks by parameter randomisation (Adebayo et al., 2018)."""

import copy
import json

import pytest
import scipy.stats
import torch
from torch import nn

import fragility as fg
from fragility.explainers import get_method, methods, saliency_map
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
    assert set(result.metrics) == {"spearman", "spearman_signed", "ssim", "hog", "top_k_intersection"}
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


def bn_net():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.Flatten(), nn.Linear(4 * 16 * 16, 5)).double()
    net.train()
    net(torch.rand(8, 3, 16, 16, dtype=torch.float64))   # trained-looking running statistics
    return net.eval()


def test_batch_norm_gets_a_random_scale_and_shift_and_keeps_its_statistics(images):
    # PyTorch's own BatchNorm init (scale 1, shift 0, statistics reset) would make the layer
    # an identity and the "randomised" maps equal to the trained ones.
    net = bn_net()
    layer = copy.deepcopy(net[1])
    randomize(layer, seed=3)
    for parameter in (layer.weight, layer.bias):
        assert (parameter.abs() <= 1).all() and parameter.unique().numel() == 4
    assert torch.equal(layer.running_mean, net[1].running_mean)
    assert torch.equal(layer.running_var, net[1].running_var)
    result = cascading_randomization(net, images, layers=["1"])
    assert result.layers == ["1"]
    assert (result.metrics["spearman"][0] < 0.99).all()
    assert not torch.allclose(result.maps[0], result.original_maps)


def test_truncated_normal_init_draws_every_parameter_from_it():
    # The reference distribution from scipy: N(0, 0.1^2) cut at two standard deviations.
    layer = nn.Linear(3 * 16 * 16, 5).double()
    randomize(layer, seed=4, init="truncated-normal")
    values = torch.cat([layer.weight.flatten(), layer.bias]).detach().numpy()
    assert abs(values).max() <= 0.2
    reference = scipy.stats.truncnorm(-2, 2, scale=0.1)
    assert scipy.stats.kstest(values, reference.cdf).pvalue > 0.01
    assert values.std() == pytest.approx(reference.std(), rel=0.05)
    norm = nn.BatchNorm2d(64)
    randomize(norm, seed=5, init="truncated-normal")
    assert (norm.weight.abs() <= 0.2).all() and norm.weight.std() < 0.15    # not ones
    assert torch.equal(norm.running_var, torch.ones(64))


def test_init_is_recorded_and_changes_the_random_weights(cnn, images):
    default = cascading_randomization(cnn, images, seed=1)
    truncated = cascading_randomization(cnn, images, seed=1, init="truncated-normal")
    assert default.config["init"] == "default" and truncated.config["init"] == "truncated-normal"
    assert "U(-1, 1)" in default.config["init_rule"] and "running statistics" in default.config["init_rule"]
    assert not torch.equal(default.maps[0], truncated.maps[0])
    with pytest.raises(fg.ConfigError, match="'xavier'.*default, truncated-normal"):
        cascading_randomization(cnn, images, init="xavier")


def test_each_metric_is_the_metric_function_of_the_maps_and_signed_attributions(cnn, images):
    result = cascading_randomization(cnn, images, layers=["6"], seed=2)
    original = fg.attribute(cnn, images, "gradient").attributions
    net = copy.deepcopy(cnn)
    randomize(net[6], _layer_seeds(2, 3)[2])
    random = fg.attribute(net, images, "gradient", target=result.labels).attributions
    assert torch.allclose(result.maps[0], saliency_map(random))
    expected = {"spearman": fg.metrics.spearman(saliency_map(original), saliency_map(random)),
                "spearman_signed": fg.metrics.spearman_signed(original, random),
                "ssim": fg.metrics.ssim(saliency_map(original), saliency_map(random)),
                "hog": fg.metrics.hog_similarity(saliency_map(original), saliency_map(random)),
                "top_k_intersection": fg.metrics.top_k_intersection(
                    saliency_map(original), saliency_map(random), result.config["k"])}
    assert set(result.metrics) == set(expected)
    for name, value in expected.items():
        torch.testing.assert_close(result.metrics[name][0], value)


def test_a_chosen_class_is_explained_at_every_step(images):
    # A linear model: the gradient of class c is its weight row c, before and after.
    torch.manual_seed(3)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 5)).double().eval()
    predicted = net(images).argmax(dim=1)
    target = int((predicted[0] + 1) % 5)
    result = cascading_randomization(net, images, seed=7, target=target)
    assert result.labels.tolist() == [target] * 3 and torch.equal(result.predicted, predicted)
    row = net[1].weight.detach()[target].reshape(3, 16, 16).abs().sum(dim=0)
    torch.testing.assert_close(result.original_maps, (row / row.sum()).expand(3, 16, 16))
    random_net = copy.deepcopy(net)
    randomize(random_net[1], _layer_seeds(7, 1)[0])
    row = random_net[1].weight.detach()[target].reshape(3, 16, 16).abs().sum(dim=0)
    torch.testing.assert_close(result.maps[0], (row / row.sum()).expand(3, 16, 16))
    assert result.config["target"] == [target] * 3
    per_image = cascading_randomization(net, images, target=torch.tensor([0, 1, 2]))
    assert per_image.labels.tolist() == [0, 1, 2]
    with pytest.raises(fg.InputError, match=r"\[0, 4\]"):
        cascading_randomization(net, images, target=5)


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
