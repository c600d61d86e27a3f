"""Adversarial model manipulation (Heo et al., 2019): maps moved, accuracy kept."""

import argparse
import math

import pytest
import torch
from torch import nn

import fragility as fg
from fragility.manipulation import (CORNER_SHARE, REGIONS, add_arguments, evaluate, fooling, manipulate,
                                    region_mask, run)
from fragility.explainers import saliency_map
from fragility.smooth import softplus_relu
from fragility.synthetic import make_dataset
from test_no_leftovers import assert_untouched, snapshot


def small_net(seed=0):
    """A tiny float64 ReLU CNN with batch norm, for 16x16 images."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Conv2d(8, 8, 3, padding=1, stride=2), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)).double()
    net.train()
    net(torch.rand(16, 3, 16, 16, dtype=torch.float64))   # non-trivial running statistics
    return net.eval()


def small_data(net, count=48):
    images = torch.rand(count, 3, 16, 16, generator=torch.Generator().manual_seed(1),
                        dtype=torch.float64)
    with torch.no_grad():
        labels = net(images).argmax(dim=1)      # the net is right on all of them
    return images, labels


def test_corner_regions_are_a_quarter_of_each_side():
    for name in ("top-left", "top-right", "bottom-left", "bottom-right"):
        mask = region_mask(name, 64, 48)
        assert mask.shape == (1, 64, 48) and mask.sum() == 16 * 12
        rows, cols = mask[0].nonzero().T
        assert (rows.min() == 0) == name.startswith("top") and (rows.max() == 63) == name.startswith("bottom")
        assert (cols.min() == 0) == name.endswith("left") and (cols.max() == 47) == name.endswith("right")
    assert CORNER_SHARE == 0.25


def test_background_is_everything_but_the_object_and_a_mask_is_taken_as_it_is():
    masks = torch.zeros(2, 8, 8, dtype=torch.bool)
    masks[0, 2:5, 2:5] = True
    assert torch.equal(region_mask("background", 8, 8, masks), ~masks)
    custom = torch.zeros(8, 8, dtype=torch.bool)
    custom[0, 0] = True
    assert torch.equal(region_mask(custom, 8, 8), custom[None])


def test_bad_regions_are_config_errors():
    with pytest.raises(fg.ConfigError, match="'middle'.*top-left.*background"):
        region_mask("middle", 8, 8)
    with pytest.raises(fg.ConfigError, match="needs the object masks"):
        region_mask("background", 8, 8)
    with pytest.raises(fg.ConfigError, match="at least one pixel"):
        region_mask(torch.zeros(8, 8, dtype=torch.bool), 8, 8)
    with pytest.raises(fg.ConfigError, match="region must have shape"):
        region_mask(torch.ones(4, 4, dtype=torch.bool), 8, 8)


def test_evaluate_measures_the_real_network():
    net = small_net()
    images, labels = small_data(net, 6)
    labels[0] = (labels[0] + 1) % 4
    measured = evaluate(net, images, labels, "top-left")
    maps = fg.explain(net, images, "gradient", target=labels)
    assert torch.equal(measured["maps"], maps)
    assert torch.allclose(measured["mass"], maps[:, :4, :4].sum(dim=(1, 2)))
    assert measured["accuracy"] == pytest.approx(5 / 6)
    assert torch.equal(measured["predicted"], net(images).argmax(dim=1))


def test_the_first_step_reports_the_documented_loss_terms():
    # At step 1 the copy is the original: the distillation term is 0 and the mass is the
    # top-left share of the surrogate's gradient maps of the first batch's true classes.
    net = small_net()
    images, labels = small_data(net, 16)
    result = manipulate(net, images, labels, steps=1, batch_size=8, seed=3, beta=7.0)
    batch = torch.randperm(16, generator=torch.Generator().manual_seed(3))[:8]
    with softplus_relu(7.0):
        gradients = fg.attribute(net, images[batch], "gradient", target=labels[batch]).attributions
    mass = saliency_map(gradients)[:, :4, :4].sum(dim=(1, 2)).mean().item()
    row = result.history[0]
    assert row["distillation"] == pytest.approx(0, abs=1e-12)
    assert row["mass"] == pytest.approx(mass, rel=1e-9)
    assert row["penalty"] == pytest.approx(-math.log(mass), rel=1e-9)
    assert row["loss"] == pytest.approx(row["penalty"], rel=1e-9)


def test_a_step_moves_the_maps_towards_the_region():
    # One small Adam step on one batch lowers the penalty on that batch: the map's
    # derivative through the surrogate points the right way.
    net = small_net()
    images, labels = small_data(net, 8)
    result = manipulate(net, images, labels, steps=2, batch_size=8, lr=1e-3)
    assert result.history[1]["mass"] > result.history[0]["mass"]


def test_the_callers_model_is_untouched_and_the_copy_is_returned_clean():
    net = small_net()
    net[1].train()                       # a flag the copy must not inherit into fine-tuning
    images, labels = small_data(net, 8)
    before = snapshot(net)
    result = manipulate(net, images, labels, steps=3, batch_size=4)
    assert_untouched(net, before)
    assert not result.model.training
    assert any(not torch.equal(a, b) for a, b in zip(result.model.net.state_dict().values(),
                                                     net.state_dict().values()))
    assert all(parameter.grad is None and not parameter.requires_grad
               for parameter in result.model.parameters())


def test_same_seed_same_weights_and_the_callback_can_stop():
    net = small_net()
    images, labels = small_data(net, 16)
    first = manipulate(net, images, labels, steps=3, batch_size=8, seed=2)
    again = manipulate(net, images, labels, steps=3, batch_size=8, seed=2)
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
    rows = []
    stopped = manipulate(net, images, labels, steps=10, batch_size=8,
                         callback=lambda step, row: rows.append(row) or step < 2)
    assert stopped.stopped_early and len(stopped.history) == 2 == len(rows)
    assert set(rows[0]) == {"step", "loss", "distillation", "penalty", "mass"}
    assert stopped.config["region"] == "top-left" and stopped.config["steps"] == 10


def test_bad_input_is_refused():
    net = small_net()
    images, labels = small_data(net, 4)
    with pytest.raises(fg.InputError, match="labels must be 4 integer"):
        manipulate(net, images, labels.double())
    with pytest.raises(fg.InputError, match="labels must be 4"):
        manipulate(net, images, labels[:3])
    with pytest.raises(fg.ConfigError, match="batch_size"):
        manipulate(net, images, labels, batch_size=5)
    with pytest.raises(fg.ConfigError, match="steps"):
        manipulate(net, images, labels, steps=0)
    with pytest.raises(fg.ConfigError, match="temperature"):
        manipulate(net, images, labels, batch_size=4, temperature=0)
    with pytest.raises(fg.InputError, match=r"masks must have shape \(N,H,W\)"):
        manipulate(net, images, labels, "background", masks=torch.zeros(3, 16, 16, dtype=torch.bool),
                   batch_size=4)
    with pytest.raises(fg.InputError):
        manipulate(net, images * 3, labels, batch_size=4)


def test_the_command_writes_a_loadable_checkpoint_and_a_card(tmp_path):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    output = tmp_path / "manipulated.safetensors"
    args = parser.parse_args(["--steps", "2", "--train-images", "8", "--batch-size", "4",
                              "--eval-images", "8", "--region", "background", "--output", str(output)])
    assert run(args) == 0
    model = fg.load_model("bundled", device="cpu", weights=output)
    card = (tmp_path / "MODEL_CARD-manipulated.md").read_text()
    assert "fragility manipulate --region background --steps 2" in card
    test_images, test_labels, test_masks = make_dataset(8, fg.manipulation.EVAL_SEED)
    after = evaluate(model, test_images, test_labels, "background", test_masks)
    assert "| accuracy | " in card and f"**{after['accuracy']:.2%}**" in card
    assert f"**{after['mass'].mean().item():.1%}**" in card


def test_the_shipped_manipulated_model_keeps_its_accuracy_and_lies_in_its_maps():
    # Heo et al.'s claim on the shipped checkpoint, on images neither fine-tuning nor the
    # card used: accuracy within 2 points of the original, most of the map in the region.
    info = fg.checkpoint_info("bundled-manipulated")
    region = info["region"]
    assert region in REGIONS
    original = fg.load_model("bundled", device="cpu")
    manipulated = fg.load_model("bundled-manipulated", device="cpu")
    images, labels, masks = make_dataset(400, fg.manipulation.EVAL_SEED + 1)
    before = evaluate(original, images, labels, region, masks)
    after = evaluate(manipulated, images, labels, region, masks)
    assert after["accuracy"] >= before["accuracy"] - 0.02
    assert before["mass"].mean() < 0.2
    assert after["mass"].mean() > 0.5
    assert float(info["accuracy_after"]) >= float(info["accuracy_before"]) - 0.02
    assert float(info["mass_after"]) > 0.5


def test_a_relu_networks_gradient_map_has_a_weight_gradient():
    # The map is multilinear in the weights for a fixed activation pattern, not piecewise
    # constant: the location penalty on the plain ReLU network has a non-zero weight gradient.
    net = small_net()
    images, labels = small_data(net, 4)
    x = images.clone().requires_grad_(True)
    score = net(x).gather(1, labels[:, None]).sum()
    gradients, = torch.autograd.grad(score, x, create_graph=True)
    penalty = -torch.log(saliency_map(gradients)[:, :4, :4].sum(dim=(1, 2))).mean()
    weight_gradients = torch.autograd.grad(penalty, [net[0].weight, net[3].weight, net[7].weight])
    assert all(float(g.abs().max()) > 1e-6 for g in weight_gradients)


def test_beta_none_fine_tunes_the_plain_relu_network_as_heo_et_al():
    net = small_net()
    images, labels = small_data(net, 8)
    result = manipulate(net, images, labels, steps=1, batch_size=8, beta=None)
    gradients = fg.attribute(net, images, "gradient", target=labels).attributions   # real ReLU
    mass = saliency_map(gradients)[:, :4, :4].sum(dim=(1, 2)).mean().item()
    assert result.history[0]["mass"] == pytest.approx(mass, rel=1e-9)
    assert result.config["beta"] is None
    moved = manipulate(net, images, labels, steps=2, batch_size=8, beta=None)
    assert moved.history[1]["mass"] > moved.history[0]["mass"]


@pytest.mark.parametrize("objective", ["top-k", "center-mass"])
def test_the_other_fooling_objectives_move_their_measure(objective):
    net = small_net()
    images, labels = small_data(net, 8)
    result = manipulate(net, images, labels, steps=3, batch_size=8, lr=3e-3, objective=objective)
    rows = result.history
    assert result.config["objective"] == objective and result.config["region"] is None
    if objective == "top-k":
        # the first step's mass is the surrogate map's share on the original top 10% of pixels
        with softplus_relu(10.0):
            maps = saliency_map(fg.attribute(net, images, "gradient", target=labels).attributions)
        original = fg.explain(net, images, "gradient", target=labels)
        top = fg.metrics.top_k_mask(original, round(0.1 * 16 * 16))
        batch = torch.randperm(8, generator=torch.Generator().manual_seed(0))
        assert rows[0]["mass"] == pytest.approx((maps * top)[batch].sum(dim=(1, 2)).mean().item(), rel=1e-9)
        assert rows[0]["penalty"] == pytest.approx(-math.log(1 - rows[0]["mass"]), rel=1e-9)
        assert rows[-1]["mass"] < rows[0]["mass"]        # the map leaves the original top pixels
    else:
        assert rows[-1]["mass"] > rows[0]["mass"]        # the center moves away
        assert rows[0]["penalty"] <= 0


def test_fooling_success_rate_and_accuracy_drop_by_hand():
    net = small_net()
    images, labels = small_data(net, 6)
    same = fooling(net, net, images, labels, "top-k")
    assert same["fsr"] == 0 and same["accuracy_drop"] == 0 and bool((same["measure"] == 1).all())
    assert fooling(net, net, images, labels, "center-mass")["fsr"] == 0
    # A model that looks only at the top-left 4x4 corner: every map is inside it.
    class Corner(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3 * 4 * 4, 4).double()

        def forward(self, x):
            return self.linear(x[:, :, :4, :4].flatten(1))
    corner = Corner()
    fooled = fooling(net, corner, images, labels, "location", "top-left")
    with torch.no_grad():
        accuracy = (corner(images).argmax(dim=1) == labels).double().mean().item()
    assert fooled["fsr"] == 1 and fooled["fooled"].all()
    assert fooled["accuracy_after"] == pytest.approx(accuracy)
    assert fooled["accuracy_drop"] == pytest.approx(1 - accuracy)
    with pytest.raises(fg.ConfigError, match="'middle'.*location.*top-k.*center-mass"):
        fooling(net, net, images, labels, "middle")
    with pytest.raises(fg.ConfigError, match="objective"):
        manipulate(net, images, labels, objective="middle", batch_size=2)


def test_the_command_takes_an_objective_and_reports_the_fooling_success_rate(tmp_path):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    common = ["--steps", "2", "--train-images", "8", "--batch-size", "4", "--eval-images", "8",
              "--objective", "top-k", "--relu"]
    with pytest.raises(fg.ConfigError, match="needs --output"):
        run(parser.parse_args(common))          # never over the shipped location-fooled model
    output = tmp_path / "top-k.safetensors"
    assert run(parser.parse_args([*common, "--output", str(output)])) == 0
    card = (tmp_path / "MODEL_CARD-manipulated.md").read_text()
    assert "--objective top-k" in card and "--relu" in card and "plain ReLU network" in card
    model = fg.load_model("bundled", device="cpu", weights=output)
    test_images, test_labels, _ = make_dataset(8, fg.manipulation.EVAL_SEED)
    fooled = fooling(fg.load_model("bundled", device="cpu"), model, test_images, test_labels, "top-k")
    assert f"| Fooling Success Rate (fewer than half" in card and f"**{fooled['fsr']:.1%}**" in card
