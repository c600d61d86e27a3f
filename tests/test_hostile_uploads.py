"""The hostile corpus against the engine and the command line: every file is refused with
a message that names it and says why, or accepted; no pickle runs, no server file leaks."""

from __future__ import annotations

import re

import pytest
import torch

import fragility as fg
import hostile
from fragility import cli
from fragility.models.trial import trial_run

# Size limits are the dashboard's (the API reads whatever it is given).
ENGINE_NAMES = [name for name in hostile.NAMES if not name.startswith("oversized")]


@pytest.fixture
def context(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("fragility-test-secret-7d1e0c")
    return hostile.Context(secret=secret, marker=tmp_path / "marker", model_limit_mb=2)


def load(item: hostile.Item):
    """What the engine makes of an item, the way the dashboard asks for it."""
    if item.slot == "image":
        return fg.load_image(item.data, size=64, name=item.name)
    if item.slot == "labels":
        return fg.load_labels(item.data, name=item.name, classes=10)
    upload = fg.ModelFile(item.name, item.data)
    if item.slot == "state-dict":
        return fg.load_model("bundled", device="cpu", weights=upload)
    if item.name == "forever.pt":       # would never return in this process: tried in a child
        trial_run(upload, input_size=64, seconds=8)
    return fg.wrap_model(fg.load_model(upload, device="cpu"), input_size=64)


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_engine_refuses_or_accepts_each_hostile_file(name, context):
    item = hostile.item(name, context)
    secret = context.secret.read_text()
    if item.expect is None:
        assert load(item) is not None
    else:
        with pytest.raises(fg.FragilityError) as raised:
            load(item)
        message = str(raised.value)
        assert re.search(item.expect, message), message
        assert secret not in message
        assert "pickled" not in message or "pickle" in item.name
    assert not context.marker.exists()


def test_a_torchscript_model_cannot_show_a_server_file_through_the_cli(context, tmp_path,
                                                                       capsys):
    secret = context.secret.read_text()
    image = tmp_path / "image.png"
    image.write_bytes(hostile.noisy())
    for name in ("steal-in-forward.pt", "steal-while-loading.pt"):
        model = tmp_path / name
        model.write_bytes(hostile.item(name, context).data)
        code = cli.main(["attack", "--model", str(model), "--image", str(image), "--out",
                         str(tmp_path / "out"), "--device", "cpu", "--steps", "2"])
        captured = capsys.readouterr()
        assert code == 2
        assert "fragility: error:" in captured.err and name.removesuffix(".pt") in captured.err
        assert secret not in captured.err + captured.out


def test_a_torchscript_model_cannot_show_a_server_file_through_the_api(context):
    secret = context.secret.read_text()
    forward = fg.load_model(fg.ModelFile("steal.pt", hostile.item("steal-in-forward.pt",
                                                                  context).data), device="cpu")
    with pytest.raises(fg.ModelError) as raised:
        fg.attack(forward, torch.rand(1, 3, 16, 16), steps=1)
    assert "RuntimeError" in str(raised.value) and secret not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    with pytest.raises(fg.ModelError) as raised:
        fg.load_model(fg.ModelFile("load.pt", hostile.item("steal-while-loading.pt",
                                                           context).data), device="cpu")
    assert secret not in str(raised.value) and raised.value.__cause__ is None


WEIGHTS_NAMES = [name for name in ENGINE_NAMES if hostile.item(
    name, hostile.Context(hostile.Path("/nonexistent"), hostile.Path("/nonexistent"), 2)).slot
    == "state-dict"]


@pytest.mark.parametrize("name", WEIGHTS_NAMES)
def test_the_cli_refuses_each_hostile_weights_file_in_one_line(name, context, tmp_path, capsys):
    item = hostile.item(name, context)
    weights = tmp_path / item.name
    weights.write_bytes(item.data)
    code = cli.main(["sweep", "--model", "bundled", "--weights", str(weights), "--images",
                     "synthetic:1", "--steps", "1", "--device", "cpu", "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert code == 2 and error.startswith("fragility: error: "), error
    named = error.replace(f"{tmp_path}/", "")     # the CLI names the file by its path
    assert re.search(item.expect, named) and len(error.strip().splitlines()) == 1, error
    assert not context.marker.exists()
