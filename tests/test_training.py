import argparse

import pytest
import torch
from safetensors import safe_open

import fragility
from fragility.errors import ConfigError
from fragility.models.bundled import CONTROL_PATH
from fragility.synthetic import CLASS_NAMES
from fragility.training import (_MAX_SEED, _MAX_STEPS, _STEPS_PER_BLOCK, EVAL_SEED, _block_seed,
                                add_arguments, evaluate, run, train)


def test_a_tiny_training_run_lowers_the_loss_and_is_reproducible():
    net, losses = train(steps=24, batch_size=16, lr=3e-3, seed=3)
    assert len(losses) == 24 and not net.training
    assert sum(losses[-6:]) / 6 < sum(losses[:6]) / 6
    again, losses_again = train(steps=24, batch_size=16, lr=3e-3, seed=3)
    assert losses == losses_again
    for a, b in zip(net.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_run_writes_a_loadable_checkpoint_and_a_card(tmp_path):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    output = tmp_path / "model.safetensors"
    args = parser.parse_args(["--steps", "8", "--batch-size", "8", "--eval-images", "20",
                              "--output", str(output)])
    assert run(args) == 0
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "--steps 8" in card and "Accuracy" in card and all(name in card for name in CLASS_NAMES)
    with safe_open(str(output), framework="pt") as handle:
        assert handle.metadata()["input_size"] == "64"
    model = fragility.load_model("bundled", device="cpu", weights=output)
    accuracy, per_class = evaluate(model.net, n=20)
    assert f"{accuracy:.2%}" in card and set(per_class) == set(CLASS_NAMES)


def test_training_never_draws_the_evaluation_seed():
    assert _block_seed(_MAX_SEED, _MAX_STEPS // _STEPS_PER_BLOCK) < EVAL_SEED
    assert _block_seed(1, 0) > _block_seed(0, _MAX_STEPS // _STEPS_PER_BLOCK)


@pytest.mark.parametrize("kwargs", [dict(steps=0), dict(seed=-1), dict(seed=10**6), dict(lr=0.0),
                                    dict(steps=10**6)])
def test_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        train(**kwargs)


def test_the_control_fits_the_true_labels_of_the_shuffled_models_images_with_its_recipe():
    from fragility.training import shuffled_training_set, train_shuffled

    images, true, shuffled = shuffled_training_set(16, seed=0)
    control = train_shuffled(16, max_steps=6, batch_size=8, seed=1, target_accuracy=None,
                             data_seed=0, true_labels=True)
    assert len(control.losses) == 6 and control.epochs == 3       # no early stop: exactly 6 steps
    again = train_shuffled(16, max_steps=6, batch_size=8, seed=1, target_accuracy=None,
                           data_seed=0, true_labels=True)
    assert control.losses == again.losses                         # deterministic
    twin = train_shuffled(16, max_steps=6, batch_size=8, seed=1, target_accuracy=None, data_seed=0)
    assert control.losses[0] != twin.losses[0]                    # other labels, same images
    normalised = fragility.training._normalise(images)
    assert control.train_accuracy == fragility.training._accuracy(control.net, normalised, true)
    assert twin.train_accuracy == fragility.training._accuracy(twin.net, normalised, shuffled)


def test_the_shipped_control_was_made_by_the_control_recipe():
    info = fragility.checkpoint_info("bundled-control")
    shuffled = fragility.checkpoint_info("bundled-shuffled")
    assert info["labels_shuffled"] == "false" and info["seed"] != shuffled["seed"]
    assert info["data_seed"] == "0" and info["train_images"] == shuffled["train_images"]
    assert info["steps"] == shuffled["steps"]                      # as many steps as its twin
    card = (CONTROL_PATH.parent / "MODEL_CARD-control.md").read_text()
    assert ("fragility train-bundled --control --train-images 512 --steps 160 --batch-size 64 "
            "--lr 0.001 --seed 1 --data-seed 0") in card
    assert f"{float(info['held_out_accuracy']):.2%}" in card
    assert CONTROL_PATH.stat().st_size < 5_000_000
    model = fragility.load_model("bundled-control", device="cpu")
    assert model.name == "bundled-control" and model.dataset_mean is not None


def test_control_and_shuffle_labels_exclude_each_other(capsys):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--control", "--shuffle-labels"])
    assert "not allowed with" in capsys.readouterr().err
