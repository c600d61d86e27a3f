"""The dashboard's server settings, from one file: dashboard/.streamlit/config.toml.

However the dashboard is started, it runs with these settings unless the operator chose
otherwise with a command-line flag or a STREAMLIT_* environment variable:

- `fragility-dashboard` / `fragility dashboard` pass every setting in the file as a flag
  (`flags`), before the operator's own flags, which win.
- `streamlit run <path>/dashboard/app.py`, from any folder: Streamlit reads the
  .streamlit/config.toml beside the script it runs, after the user's and the working
  folder's config files, so the file ships with the package and applies.
- app.py checks what the running server actually uses (`refusal`) and shows only a message
  saying how to start it safely when a safety setting is off without the operator having
  asked for it (an old Streamlit, a copied app.py, a deleted config file).

This module does not import Streamlit at import time (the `fragility` command line uses it).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"
CONFIG_FILE = APP.parent / ".streamlit" / "config.toml"
# The settings whose unsafe values expose the machine or its users; the others (theme, file
# watcher, garbage collection) only change how it looks or how fast it is.
SAFETY = ("server.address", "server.maxUploadSize", "server.enableXsrfProtection",
          "browser.gatherUsageStats")
SAFE_START = ("start it with `fragility-dashboard` (or `streamlit run` on the installed "
              "dashboard/app.py with its .streamlit/config.toml beside it); to serve other "
              "machines on purpose, say so: `fragility-dashboard --server.address 0.0.0.0`")


def options() -> dict[str, object]:
    """Every setting in the config file as {"section.name": value}, e.g. "server.address"."""
    if not CONFIG_FILE.is_file():
        from fragility.errors import ConfigError

        raise ConfigError(f"the dashboard's settings file {CONFIG_FILE} is missing; reinstall "
                          "fragility (pip install --force-reinstall fragility; in a source "
                          "checkout: git checkout -- dashboard/.streamlit)")
    return dict(_flatten(tomllib.loads(CONFIG_FILE.read_text(encoding="utf-8"))))


def _flatten(table: Mapping[str, object], prefix: str = ""):
    for name, value in table.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def env_var(key: str) -> str:
    """The environment variable Streamlit reads for a setting: server.maxUploadSize ->
    STREAMLIT_SERVER_MAX_UPLOAD_SIZE."""
    return "STREAMLIT_" + re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key.replace(".", "_")).upper()


def flags(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    """`--section.name value` for every setting that the operator's command-line arguments
    (`argv`) and environment do not set themselves."""
    given = {arg[2:].split("=", 1)[0] for arg in argv if arg.startswith("--")}
    result: list[str] = []
    for key, value in options().items():
        if key not in given and env_var(key) not in environ:
            result += [f"--{key}", str(value).lower() if isinstance(value, bool) else str(value)]
    return result


def is_loopback(address: object) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(address)).is_loopback
    except ValueError:   # unset (every interface), a host name or garbage
        return False


def problems(value: Callable[[str], object], chosen: Callable[[str], bool]) -> list[str]:
    """What is unsafe about the settings `value(key)` returns, leaving out the settings the
    operator chose on purpose (`chosen(key)`)."""
    safe = options()
    found = []
    address = value("server.address")
    if not is_loopback(address) and not chosen("server.address"):
        where = f"on {address}" if address else "on every network interface"
        found.append(f"it listens {where} although no one asked for that "
                     f"(the dashboard's setting: {safe['server.address']})")
    cap = value("server.maxUploadSize")
    if cap > safe["server.maxUploadSize"] and not chosen("server.maxUploadSize"):
        found.append(f"uploads may be {cap} MB (the dashboard's cap: "
                     f"{safe['server.maxUploadSize']} MB)")
    if not value("server.enableXsrfProtection") and not chosen("server.enableXsrfProtection"):
        found.append("XSRF protection is off")
    if value("browser.gatherUsageStats") and not chosen("browser.gatherUsageStats"):
        found.append("usage statistics are sent from every visitor's browser")
    return found


def refusal() -> str | None:
    """Why the running server must not serve the dashboard, with how to start it safely;
    None when its settings are safe or chosen by the operator."""
    from streamlit import config

    if config.get_option("global.appTest"):   # AppTest runs the script with no server
        return None
    # Flags and STREAMLIT_* environment variables are the operator's explicit choice; a
    # value from a config file or Streamlit's default is not.
    explicit = {config._DEFINED_BY_FLAG, config._DEFINED_BY_ENV_VAR}
    found = problems(config.get_option, lambda key: config.get_where_defined(key) in explicit)
    if not found:
        return None
    return ("This dashboard was started without its safe settings: " + "; ".join(found)
            + ". It shows nothing until it is restarted safely: " + SAFE_START + ".")
