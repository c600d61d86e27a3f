"""The dashboard's server settings: one packaged file, flags from it, and the run-time check."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit import config

from dashboard import settings

ROOT = Path(__file__).resolve().parents[2]
SAFE = {"server.address": "127.0.0.1", "server.maxUploadSize": 101,
        "server.enableXsrfProtection": True, "browser.gatherUsageStats": False}


def test_the_repository_copy_is_the_packaged_file():
    assert (ROOT / ".streamlit" / "config.toml").read_bytes() == settings.CONFIG_FILE.read_bytes()


def test_the_packaged_file_holds_the_safe_settings():
    options = settings.options()
    assert {key: options[key] for key in SAFE} == SAFE
    assert options["server.fileWatcherType"] == "none" and options["runner.postScriptGC"] is False
    known = config.get_config_options()
    assert set(options) <= set(known), set(options) - set(known)   # no typo Streamlit ignores


def test_environment_variable_names_match_streamlits():
    known = config.get_config_options()
    for key in settings.options():
        assert settings.env_var(key) == known[key].env_var


def test_flags_carry_every_setting_the_operator_left_alone():
    flags = settings.flags([], environ={})
    passed = dict(zip(flags[::2], flags[1::2]))
    assert passed == {f"--{key}": str(value).lower() if isinstance(value, bool) else str(value)
                      for key, value in settings.options().items()}


def test_the_operators_flags_and_environment_win():
    flags = settings.flags(["--server.address", "0.0.0.0", "--server.maxUploadSize=50"],
                           environ={"STREAMLIT_BROWSER_GATHER_USAGE_STATS": "true"})
    for key in ("server.address", "server.maxUploadSize", "browser.gatherUsageStats"):
        assert f"--{key}" not in flags
    assert "--server.enableXsrfProtection" in flags


@pytest.mark.parametrize("address, loopback", [
    ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("", False), (None, False), ("192.0.2.7", False),
    ("example.org", False)])
def test_loopback_addresses(address, loopback):
    assert settings.is_loopback(address) is loopback


def _problems(changes: dict, chosen: set = frozenset()) -> list[str]:
    values = SAFE | changes
    return settings.problems(values.__getitem__, lambda key: key in chosen)


def test_safe_settings_have_no_problems():
    assert _problems({}) == []


@pytest.mark.parametrize("key, value, message", [
    ("server.address", None, "every network interface"),
    ("server.address", "0.0.0.0", "0.0.0.0"),
    ("server.maxUploadSize", 200, "200 MB"),
    ("server.enableXsrfProtection", False, "XSRF"),
    ("browser.gatherUsageStats", True, "usage statistics")])
def test_unsafe_settings_are_named_unless_the_operator_chose_them(key, value, message):
    found = _problems({key: value})
    assert len(found) == 1 and message in found[0]
    assert _problems({key: value}, chosen={key}) == []


def test_a_smaller_cap_or_another_loopback_address_is_fine():
    assert _problems({"server.maxUploadSize": 5, "server.address": "localhost"}) == []


def test_no_refusal_under_apptest_where_no_server_listens(monkeypatch):
    values = {"global.appTest": True, **SAFE, "server.address": None}
    monkeypatch.setattr(config, "get_option", values.__getitem__)
    monkeypatch.setattr(config, "get_where_defined", lambda key: "default")
    assert settings.refusal() is None


def test_refusal_names_the_problem_and_the_safe_start(monkeypatch):
    values = {"global.appTest": False, **SAFE, "server.address": None}
    monkeypatch.setattr(config, "get_option", values.__getitem__)
    monkeypatch.setattr(config, "get_where_defined", lambda key: "default")
    message = settings.refusal()
    assert "every network interface" in message and "fragility-dashboard" in message
    assert "--server.address 0.0.0.0" in message
    monkeypatch.setattr(config, "get_where_defined", lambda key: config._DEFINED_BY_FLAG)
    assert settings.refusal() is None   # the operator asked for it on the command line
