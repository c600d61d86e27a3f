"""Driving the dashboard's background jobs from AppTest: wait for steps, wait for the end."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def latest_job(at: AppTest):
    """The job this session started last."""
    return list(at.session_state["jobs"].values())[-1]


def wait_for_step(job, step: int, timeout: float = 120, phase: str | None = None) -> None:
    """Block until `job` has run `step` steps, in `phase` if given (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while (job.step < step or (phase is not None and job.phase != phase)) and time.monotonic() < deadline:
        time.sleep(0.05)


def wait_until(condition, timeout: float = 20.0) -> None:
    """Block until `condition()` holds; fail the test once `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def run_until_done(at: AppTest, timeout: float = 300) -> AppTest:
    """Rerun the app once no job of its session is running (the live view ends)."""
    deadline = time.monotonic() + timeout
    jobs = at.session_state["jobs"] if "jobs" in at.session_state else {}
    while any(job.running for job in jobs.values()):
        if time.monotonic() > deadline:
            raise TimeoutError("the dashboard's job did not finish")
        time.sleep(0.1)
    return at.run()


def open_page(at: AppTest, url_path: str) -> AppTest:
    """Switch to the page registered under `url_path` and run it.

    AppTest.switch_page only matches pages that are files; the pages here are functions
    given to st.navigation, so the page hash is looked up in the registry AppTest keeps.
    """
    hashes = [page_hash for page_hash, info in at._registered_pages.items()
              if info.get("url_pathname") == url_path]
    assert len(hashes) == 1, at._registered_pages
    at._page_hash = hashes[0]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
