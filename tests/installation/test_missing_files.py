"""A file missing from an installation is a FragilityError that says how to get it back."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from dashboard import settings
from fragility import cli
from fragility.errors import ConfigError, InputError, ModelError
from fragility.models.bundled import load_bundled

samples = importlib.import_module("fragility.samples")   # the module; fragility.samples is the function


def test_missing_bundled_model(tmp_path):
    with pytest.raises(ModelError, match="missing.*reinstall fragility.*train-bundled"):
        load_bundled(device="cpu", path=tmp_path / "bundled.safetensors")


def test_missing_sample_index(monkeypatch, tmp_path):
    monkeypatch.setattr(samples, "INDEX", tmp_path / "samples.json")
    with pytest.raises(InputError, match="samples.json is missing; reinstall fragility"):
        samples.samples()


def test_missing_sample_image_and_mask(tmp_path):
    shape = samples.get_sample("shape_star_1")
    gone = dataclasses.replace(shape, path=tmp_path / "gone.png", mask_path=tmp_path / "gone_mask.png")
    with pytest.raises(InputError, match="gone.png is missing; reinstall fragility"):
        gone.load()
    with pytest.raises(InputError, match="gone_mask.png is missing; reinstall fragility"):
        gone.load_mask()


def test_missing_dashboard_settings(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(settings, "CONFIG_FILE", tmp_path / "config.toml")
    with pytest.raises(ConfigError, match="settings file .* is missing; reinstall fragility"):
        settings.options()
    assert cli.dashboard_main(["--server.port", "8600"]) == cli.EXIT_USAGE   # nothing started
    assert "reinstall fragility" in capsys.readouterr().err
