"""`fragility attack` end to end on a tiny TorchScript model, and clean errors (exit 2)."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fragility import cli


@pytest.fixture
def files(tmp_path, cnn):
    """A tiny float32 CNN saved as TorchScript and a 16x16 PNG."""
    model_path = tmp_path / "tiny.pt"
    with warnings.catch_warnings():   # TorchScript is deprecated upstream but still a supported input
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.trace(cnn.float(), torch.rand(1, 3, 16, 16)).save(str(model_path))
    generator = torch.Generator().manual_seed(0)
    pixels = (torch.rand(16, 16, 3, generator=generator) * 255).to(torch.uint8).numpy()
    image_path = tmp_path / "image.png"
    Image.fromarray(pixels).save(image_path)
    return model_path, image_path


def run_attack(files, out, *extra):
    model_path, image_path = files
    return cli.main(["attack", "--model", str(model_path), "--image", str(image_path), "--out", str(out),
                     "--device", "cpu", "--k", "20", *extra])


def test_attack_writes_image_panel_and_json(files, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_attack(files, out, "--steps", "12", "--epsilon", "8", "--step-size", "2", "--attack", "mass-center") == 0
    perturbed = Image.open(out / "perturbed.png")
    assert perturbed.size == (16, 16) and perturbed.mode == "RGB"
    panel = Image.open(out / "panel.png")
    assert panel.width > 4 * 200 and panel.height > 200
    record = json.loads((out / "result.json").read_text())
    assert record["config"]["attack"] == "mass-center" and record["config"]["steps"] == 12
    assert record["config"]["epsilon"] == pytest.approx(8 / 255)
    assert record["config"]["step_size"] == pytest.approx(2 / 255)
    assert set(record["metrics"]) >= {"spearman", "top_k_intersection", "center_shift", "ssim", "dissimilarity"}
    assert record["labels_kept"] is True and record["steps_run"] == 12 and len(record["history"]) == 12
    assert record["found"] is True and record["noise_floor"] is None
    # The random-sign baseline of the same eps, picked by the same criterion, is beside it.
    baseline = record["random_sign"]
    assert baseline["config"]["attack"] == "random-sign" and baseline["config"]["criterion"] == "mass-center"
    assert baseline["config"]["epsilon"] == pytest.approx(8 / 255) and baseline["config"]["steps"] == 12
    original = torch.tensor(np.array(Image.open(files[1])), dtype=torch.float32)
    changed = torch.tensor(np.array(perturbed), dtype=torch.float32)
    assert (changed - original).abs().max() <= 8
    captured = capsys.readouterr()
    assert "panel.png" in captured.out and "step" in captured.err   # the progress bar is on stderr
    assert "random sign" in captured.out and "Spearman" in captured.out


def test_targeted_region_from_the_command_line(files, tmp_path):
    out = tmp_path / "out"
    assert run_attack(files, out, "--steps", "3", "--attack", "targeted", "--region", "0", "0", "0.5", "0.5") == 0
    region = json.loads((out / "result.json").read_text())["config"]["region"]
    assert torch.tensor(region)[0, :8, :8].all() and torch.tensor(region)[0].sum() == 64


@pytest.mark.parametrize("extra, message", [
    (["--k", "1000"], "--k must be at most the image's 256 pixels, got 1000"),
    (["--epsilon", "-1"], "--epsilon must be >= 0, got -1"),
    (["--epsilon", "300"], "--epsilon must be <= 255, got 300"),
    (["--step-size", "0"], "--step-size must be > 0, got 0"),
    (["--attack", "targeted"], "the targeted attack needs --region"),
    (["--attack", "targeted", "--region", "0.5", "0", "0.2", "1"], "--region TOP LEFT BOTTOM RIGHT"),
    (["--gamma", "2"], "--gamma is not used by the top-k attack (it is used by: target-map, random-sign)"),
    (["--smoothgrad-samples", "3"], "--smoothgrad-samples is an option of smoothgrad, but --method is gradient"),
    (["--method", "smoothgrad", "--smoothgrad-samples", "0"], "--smoothgrad-samples must be >= 1, got 0"),
    (["--defence-beta", "2"], "--defence-beta needs --defence"),
    (["--device", "tpu"], "--device 'tpu' is not a device; use cpu, cuda or cuda:N"),
    (["--target", "9"], "--target must be a class index in [0, 4], got 9"),
])
def test_api_errors_are_one_line_and_exit_2(files, tmp_path, capsys, extra, message):
    assert run_attack(files, tmp_path / "out", "--steps", "1", *extra) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("fragility: error: ") and message in err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_one_line(files, tmp_path, capsys):
    assert run_attack(files, tmp_path / "out", "--steps", "1", "--device", "cuda:0") == 2
    assert "--device cuda:0: no CUDA GPU is available here" in capsys.readouterr().err


def test_out_is_checked_before_anything_runs(files, tmp_path, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("")
    code = cli.main(["attack", "--model", str(tmp_path / "no-such-model.pt"), "--image", str(files[1]),
                     "--out", str(a_file)])
    assert code == 2   # the --out error comes first: the model was never loaded
    err = capsys.readouterr().err
    assert "--out" in err and "is a file" in err


def test_help_lists_every_declared_parameter():
    import fragility as fg
    from fragility import cli_flags

    text = " ".join(cli.build_parser()._subparsers._group_actions[0].choices["attack"].format_help().split())
    for attack in fg.attacks():
        for parameter in fg.get_attack(attack).parameters:
            assert parameter.flag in text, parameter.name
    for method in fg.methods():
        for parameter in fg.get_method(method).parameters:
            assert cli_flags.method_flag(method, parameter) in text
    for defence in fg.defences():
        for parameter in fg.get_defence(defence).parameters:
            assert cli_flags.defence_flag(parameter) in text
    assert "8/255 on the 0-255 scale" in text


def test_paper_preset_with_an_override(files, tmp_path):
    out = tmp_path / "out"
    assert run_attack(files, out, "--preset", "paper", "--steps", "4", "--no-baseline",
                      "--method", "integrated-gradients", "--integrated-gradients-steps", "8") == 0
    record = json.loads((out / "result.json").read_text())
    config = record["config"]
    assert config["steps"] == 4                              # the flag wins over the preset's 300
    assert config["step_size"] == pytest.approx(0.5 / 255)  # the preset's alpha
    assert config["method_options"]["steps"] == 8 and record["random_sign"] is None


def test_paper_preset_without_k_takes_two_percent_of_the_pixels(files, tmp_path):
    model_path, image_path = files
    out = tmp_path / "out"
    assert cli.main(["attack", "--model", str(model_path), "--image", str(image_path), "--out", str(out),
                     "--device", "cpu", "--preset", "paper", "--steps", "2", "--no-baseline"]) == 0
    config = json.loads((out / "result.json").read_text())["config"]
    assert config["k"] == round(0.02 * 16 * 16) and config["epsilon"] == pytest.approx(8 / 255)


def test_smoothgrad_reports_its_noise_floor(files, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_attack(files, out, "--method", "smoothgrad", "--smoothgrad-samples", "4", "--steps", "2") == 0
    record = json.loads((out / "result.json").read_text())
    assert set(record["noise_floor"]) == {"spearman", "top_k_intersection", "center_shift"}
    assert "noise floor" in capsys.readouterr().out


def test_missing_image_is_a_clean_error(files, tmp_path, capsys):
    code = cli.main(["attack", "--model", str(files[0]), "--image", str(tmp_path / "none.png"),
                     "--out", str(tmp_path), "--device", "cpu"])
    assert code == 2
    assert "none.png" in capsys.readouterr().err


def test_bad_choices_exit_2_listing_the_valid_names(files, tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "fragility.cli", "attack", "--image", str(files[1]), "--out", str(tmp_path),
         "--attack", "nope"], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert "invalid choice: 'nope'" in completed.stderr and "top-k" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_subcommands_are_wired(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "dashboard_main", lambda argv: calls.append(argv) or 0)
    assert cli.main(["dashboard", "--server.port", "8600"]) == 0
    assert calls == [["--server.port", "8600"]]
    trained = []
    monkeypatch.setattr(cli, "train_command", lambda args: trained.append(args.rest) or 0)
    assert cli.main(["train-bundled", "--steps", "5"]) == 0
    assert trained == [["--steps", "5"]]
    assert "train-bundled" in cli.build_parser().format_help()


def test_dashboard_main_passes_the_packaged_settings_and_the_operators_last(monkeypatch, tmp_path):
    from streamlit.web import cli as streamlit_cli

    from dashboard import settings

    seen = {}

    def fake_main():
        import os
        seen["argv"], seen["cwd"] = list(sys.argv), os.getcwd()
        raise SystemExit(0)

    monkeypatch.setattr(streamlit_cli, "main", fake_main)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.delenv("STREAMLIT_SERVER_MAX_UPLOAD_SIZE", raising=False)
    monkeypatch.setenv("STREAMLIT_THEME_BASE_FONT_SIZE", "20")
    monkeypatch.chdir(tmp_path)
    operator = ["--server.port", "8600", "--server.address=0.0.0.0"]
    assert cli.dashboard_main(operator) == 0
    argv = seen["argv"]
    assert argv[:3] == ["streamlit", "run", str(settings.APP)] and argv[-3:] == operator
    passed = dict(zip(argv[3:-3:2], argv[4:-3:2]))
    assert passed["--server.maxUploadSize"] == "101" and passed["--browser.gatherUsageStats"] == "false"
    assert "--server.address" not in passed          # the operator's choice, given once
    assert "--theme.baseFontSize" not in passed      # set in the environment: it wins
    assert Path(seen["cwd"]) == tmp_path             # started where the operator is


def test_report_and_slide_pictures_from_the_command_line(files, tmp_path, capsys):
    out, page = tmp_path / "out", tmp_path / "run.html"
    assert run_attack(files, out, "--steps", "3", "--report", str(page), "--picture-width", "800") == 0
    html = page.read_text(encoding="utf-8")
    record = json.loads((out / "result.json").read_text())
    assert "<img src=\"data:image/png;base64," in html and "<script" not in html
    assert f"{record['metrics']['spearman']:.3f}" in html                       # the attack's value
    assert f"{record['random_sign']['metrics']['spearman']:.3f}" in html        # beside its baseline
    assert Image.open(out / "panel-slide.png").width == 800
    assert Image.open(out / "history-slide.png").width == 800
    assert (out / "history-slide.svg").read_text().startswith("<svg")
    assert str(page) in capsys.readouterr().out


def test_too_narrow_picture_is_refused_before_the_attack(files, tmp_path, capsys):
    assert run_attack(files, tmp_path / "out", "--picture-width", "50") == 2
    assert "at least 320 pixels, got 50" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_bench_help_prints_usage_and_runs_nothing(monkeypatch, capsys, flag):
    ran = []
    monkeypatch.setattr(cli.subprocess, "call", lambda command, **_: ran.append(command) or 0)
    assert cli.main(["bench", flag]) == 0
    assert ran == []
    out = capsys.readouterr().out
    assert out.startswith("usage: fragility bench") and "bench_attack_step.py" in out
