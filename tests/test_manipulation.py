"""Adversarial model manipulation (Heo et al., 2019): maps moved, accuracy kept."""

import argparse
import math

import pytest
import torch
from torch import nn

import fragility as fg
from fragility.manipulation import (CORNER_SHARE, REGIONS, add_arguments, evaluate, manipulate,
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
