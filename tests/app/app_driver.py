"""Driving the dashboard's background jobs from AppTest: wait for steps, wait for the end."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest


def latest_job(at: AppTest):
    """The job this session started last."""
    return list(at.session_state["jobs"].values())[-1]


def wait_for_step(job, step: int, timeout: float = 120) -> None:
    """Block until `job` has run `step` steps (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while job.step < step and time.monotonic() < deadline:
        time.sleep(0.05)


def run_until_done(at: AppTest, timeout: float = 300) -> AppTest:
    """Rerun the app once no job of its session is running (the live view ends)."""
    deadline = time.monotonic() + timeout
    jobs = at.session_state["jobs"] if "jobs" in at.session_state else {}
    while any(job.running for job in jobs.values()):
        if time.monotonic() > deadline:
            raise TimeoutError("the dashboard's job did not finish")
        time.sleep(0.1)
    return at.run()
