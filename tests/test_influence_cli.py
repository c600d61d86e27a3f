"""`fragility influence` end to end on the bundled model, and clean errors (exit 2)."""

from __future__ import annotations

import json

import pytest
from PIL import Image

import fragility as fg
from fragility import cli, data, influence_cli

IMAGE = next(sample for sample in fg.samples("synthetic") if sample.name.startswith("shape_star"))


def run(tmp_path, *extra):
    return cli.main(["influence", "--image", str(IMAGE.path), "--train", "30", "--k", "3",
                     "--hessian-images", "100", "--out", str(tmp_path / "out"), "--device", "cpu", *extra])


def test_writes_a_strip_and_a_record_that_match_the_api(tmp_path, capsys):
    assert run(tmp_path, "--steps", "4", "--epsilon", "6", "--seed", "2") == 0
    out = tmp_path / "out"
    printed = capsys.readouterr().out
    assert f"wrote {out / 'strip.png'}" in printed
    strip = Image.open(out / "strip.png")
    assert strip.width == influence_cli.GAP * 2 + 7 * (influence_cli.TILE + influence_cli.GAP)
    record = json.loads((out / "result.json").read_text())
    config = record["config"]
    assert (config["epsilon"], config["steps"], config["k"], config["seed"], config["train_size"]) == \
        (6 / 255, 4, 3, 2, 30)

    model = fg.load_model("bundled", device="cpu")
    image = fg.load_image(IMAGE.path, size=64)[None]
    train, labels = fg.training_set("bundled", n=30)
    sample = data.hessian_sample("bundled", n=100)
    expected = fg.influence_attack(model, image, train, labels, epsilon=6 / 255, steps=4, k=3, seed=2,
                                   hessian_images=sample)
    assert config["hessian_images"] == 100
    assert record["damping_sensitivity"] == pytest.approx(
        {name: value[0].item() for name, value in expected.damping_sensitivity.items()})
    assert influence_cli.sensitivity_line(expected) in printed
    assert record["metrics"] == pytest.approx({name: value[0].item() for name, value in expected.metrics.items()})
    assert record["random_sign"]["metrics"]["top_k_intersection"] == \
        pytest.approx(expected.baseline.metrics["top_k_intersection"][0].item())
    assert record["found"] == bool(expected.found[0]) and record["labels"]["original"] == "star"
    before = expected.original_scores[0]
    helpful = [row["train_index"] for row in record["most_helpful"]["before"]]
    harmful = [row["train_index"] for row in record["most_harmful"]["before"]]
    assert helpful == before.topk(3).indices.tolist() and harmful == (-before).topk(3).indices.tolist()
    assert [row["score"] for row in record["most_helpful"]["before"]] == pytest.approx(before.topk(3).values.tolist())
    assert record["most_helpful"]["after"][0]["score"] == pytest.approx(expected.perturbed_scores[0].max().item())
    assert len(record["history"]) == 4 and len(record["random_sign_history"]) == 4


def test_no_perturbation_found_is_said(tmp_path, capsys):
    assert run(tmp_path, "--steps", "2", "--epsilon", "0") == 0
    assert "no label-keeping perturbation lowered the top-k influence in 2 steps" in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "result.json").read_text())["found"] is False


@pytest.mark.parametrize("extra, message", [
    (["--model", "resnet18"], "training data of bundled only, got 'resnet18'"),
    (["--train", "0"], "n (training images) must be >= 1"),
    (["--k", "31"], "k (number of top features) must be <= 30"),
    (["--damping", "0"], "damping must be > 0"),
    (["--train", "76750"], "--train 76750 plus --hessian-images 100 exceed the 76,800 images"),
    (["--image", "/nonexistent/none.png"], "none.png"),
])
def test_errors_are_one_line_and_exit_2(tmp_path, capsys, extra, message):
    assert run(tmp_path, "--steps", "1", *extra) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("fragility: error: ") and message in err


def test_single_step_is_the_papers_one_signed_step_of_epsilon(tmp_path):
    assert run(tmp_path, "--single-step", "--epsilon", "8", "--steps", "30") == 0
    record = json.loads((tmp_path / "out" / "result.json").read_text())
    assert record["config"]["steps"] == 1 and record["config"]["step_size"] == record["config"]["epsilon"] == 8 / 255
    assert record["steps_run"] == 1 and len(record["random_sign_history"]) == 1


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["influence", "--help"])
    text = capsys.readouterr().out
    for option in ("--train", "--train-seed", "--epsilon", "--steps", "--k", "--gamma", "--damping", "--out",
                   "--hessian-images", "--single-step"):
        assert option in text
    assert "influence" in cli.build_parser().format_help()
