"""Start the dashboard in a subprocess (browser tests, screenshots, benchmark).

It starts the way a user does, `streamlit run dashboard/app.py` (or another launcher such as
an installed `fragility-dashboard`), so it runs with the packaged settings of
dashboard/.streamlit/config.toml: 127.0.0.1, the upload cap, no usage statistics.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"
# Debian's Chromium, headless, quiet and offline.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
_PORT_TRIES = 3   # a free port can be taken by another process before the server binds it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(port: int | None = None, timeout: float = 120, launcher: Sequence[str] | None = None,
          cwd: str | Path | None = None, env: dict[str, str] | None = None
          ) -> tuple[subprocess.Popen, str]:
    """Start the dashboard and return (process, url) once it answers on 127.0.0.1.

    `launcher` is the command before the streamlit options (default: `python -m streamlit
    run dashboard/app.py`); the server runs in `cwd` (default: the caller's working folder)
    with `env` (default: this process's environment).
    """
    launcher = list(launcher or [sys.executable, "-m", "streamlit", "run", str(APP)])
    for attempt in range(1 if port else _PORT_TRIES):
        chosen = port or free_port()
        command = [*launcher, "--server.headless", "true", "--server.port", str(chosen)]
        # The log goes to a file: an unread pipe fills up and stalls the server.
        log = tempfile.NamedTemporaryFile("w+", prefix="fragility-dashboard-", suffix=".log",
                                          delete=False)
        server = subprocess.Popen(command, cwd=cwd, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, text=True)
        server.log_path = log.name
        url = f"http://127.0.0.1:{chosen}"
        try:
            _wait_until_healthy(server, url, timeout)
            return server, url
        except _PortTaken:
            continue
    raise RuntimeError(f"no free port for the dashboard after {_PORT_TRIES} tries")


class _PortTaken(Exception):
    pass


def _wait_until_healthy(server: subprocess.Popen, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = Path(server.log_path).read_text()
            if "is not available" in output:   # Streamlit: "Port N is not available"
                os.unlink(server.log_path)
                raise _PortTaken
            raise RuntimeError(f"the dashboard exited: {output[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    stop(server)
    raise RuntimeError(f"the dashboard did not answer at {url} within {timeout} s: "
                       f"{Path(server.log_path).read_text()[-2000:]}")


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    log = getattr(server, "log_path", None)
    if log and os.path.exists(log):
        os.unlink(log)
