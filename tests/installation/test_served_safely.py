"""A real dashboard server from the source checkout, started from another folder: it binds
loopback, caps uploads, keeps XSRF on and usage statistics off, whatever that folder says."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from dashboard import server

from . import live

REFUSAL = b"started without its safe settings"
PAGE = b"Run attack"
HOSTILE = """[server]
address = "0.0.0.0"
maxUploadSize = 1000
enableXsrfProtection = false
[browser]
gatherUsageStats = true
"""


# The packaged upload ceiling, in MB; uploads one MB under it and one over it are tried.
CAP_MB = 101
AROUND_CAP = (CAP_MB - 1, CAP_MB + 1)


def expect_safe(facts: live.Served, cap_mb: int = CAP_MB) -> None:
    assert facts.on_loopback
    if facts.other_address is None:
        pytest.skip("this machine has no non-loopback address to test the binding with")
    assert not facts.on_other_address, f"it accepts connections on {facts.other_address}"
    assert facts.usage_stats is False and facts.xsrf
    assert facts.accepted_mb == {cap_mb - 1: True, cap_mb + 1: False}
    assert PAGE in facts.page and REFUSAL not in facts.page


@pytest.fixture
def dashboard():
    started = []

    def start(**kwargs) -> str:
        process, url = server.start(**kwargs)
        started.append(process)
        return url

    yield start
    for process in started:
        server.stop(process)


def test_streamlit_run_from_a_folder_whose_config_says_otherwise(dashboard, tmp_path):
    # `streamlit run <checkout>/dashboard/app.py` from a folder whose own .streamlit/config.toml
    # asks for every interface, a 1 GB cap, no XSRF and usage statistics: the dashboard's
    # settings beside app.py still win.
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "config.toml").write_text(HOSTILE)
    expect_safe(live.served(dashboard(cwd=tmp_path), upload_mb=AROUND_CAP))


def test_the_operator_chooses_on_purpose(dashboard, tmp_path):
    # `fragility dashboard` with a STREAMLIT_* variable: the operator's choice wins and the
    # page is served (the same holds for flags such as --server.address 0.0.0.0).
    env = os.environ | {"STREAMLIT_SERVER_MAX_UPLOAD_SIZE": "30"}
    url = dashboard(launcher=[sys.executable, "-m", "fragility.cli", "dashboard"], cwd=tmp_path,
                    env=env)
    expect_safe(live.served(url, upload_mb=(29, 31)), cap_mb=30)


def test_an_app_without_its_settings_refuses_to_serve(dashboard, tmp_path):
    # A copy of app.py without the .streamlit/ folder beside it runs on Streamlit's defaults
    # (200 MB uploads, usage statistics on): the page says how to start it safely, nothing more.
    # The address is given on the command line so that the test stays on loopback.
    shutil.copy(server.APP, tmp_path / "app.py")
    url = dashboard(launcher=[sys.executable, "-m", "streamlit", "run", str(tmp_path / "app.py"),
                              "--server.address", "127.0.0.1"], cwd=tmp_path)
    facts = live.served(url)
    assert REFUSAL in facts.page and b"fragility-dashboard" in facts.page
    assert b"200 MB" in facts.page and b"usage statistics" in facts.page
    assert PAGE not in facts.page
