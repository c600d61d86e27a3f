"""Start the dashboard in a subprocess (browser tests, screenshots, benchmark)."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"
# Debian's Chromium, headless, quiet and offline.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(port: int | None = None, timeout: float = 120) -> tuple[subprocess.Popen, str]:
    """`streamlit run dashboard/app.py` on 127.0.0.1; returns (process, url) once it answers."""
    port = port or free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false"]
    # The log goes to a file: an unread pipe fills up and stalls the server.
    log = tempfile.NamedTemporaryFile("w+", prefix="fragility-dashboard-", suffix=".log",
                                      delete=False)
    server = subprocess.Popen(command, cwd=APP.parents[1], stdout=log, stderr=subprocess.STDOUT,
                              text=True)
    server.log_path = log.name
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the dashboard exited: {Path(log.name).read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return server, url
        except OSError:
            time.sleep(0.3)
    stop(server)
    raise RuntimeError(f"the dashboard did not answer on port {port} within {timeout} s")


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
