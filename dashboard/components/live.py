"""The live view of a job: a progress line with Stop, and the job's pictures, each on its own clock.

Every redraw costs the server (the page's script and its pictures) and, more, the viewer's
browser (a Plotly chart is laid out again on each new figure). Measured with one attack
page on 2 cores: redrawing tiles and three charts every 0.35 s kept a browser tab at 93 %
of a core, the tiles alone 35 %, the whole view every second 43 %. So the progress line
(cheap) moves every `PROGRESS_SECONDS`, the pictures follow every `CONTENT_SECONDS`, and a
job waiting in the queue shows only its place in line, redrawn every `QUEUED_SECONDS`, or
every `PROGRESS_SECONDS` once it is next in line, so that its page says it runs soon after
it starts.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from . import workers
from .state import Job

PROGRESS_SECONDS = 1.0
CONTENT_SECONDS = 2.0
QUEUED_SECONDS = 4.0


def show(job: Job, stop_key: str, progress_text: Callable[[Job], str],
         content: Callable[[], None] | None = None,
         fraction: Callable[[Job], float] | None = None) -> None:
    """The progress line and Stop button of a running `job`, then `content` once it runs.

    The page is run again when the job ends or leaves the queue, so that it shows the
    result, or the live pictures.
    """
    queued = job.waiting
    seconds = header_seconds(job)

    @st.fragment(run_every=seconds)
    def header():
        # ended, left the queue, or became next in line (drawn again on the faster clock)
        if not job.running or (queued and not job.waiting) or header_seconds(job) != seconds:
            st.rerun()
        left, right = st.columns([5, 1], vertical_alignment="center")
        done = fraction(job) if fraction else job.step / max(job.total, 1)
        left.progress(min(max(done, 0.0), 1.0), text=job.phase if job.waiting else progress_text(job))
        if right.button("Stop", icon=":material/stop:", key=stop_key, width="stretch"):
            job.stop.set()
    header()
    if queued or content is None:
        return

    @st.fragment(run_every=CONTENT_SECONDS)
    def pictures():
        if not job.running:
            st.rerun()
        content()
    pictures()


def header_seconds(job: Job) -> float:
    """How often the progress line is redrawn: rarely while the job waits behind others."""
    if job.waiting and workers.pool().position(job) != 1:
        return QUEUED_SECONDS
    return PROGRESS_SECONDS


def steps_text(job: Job) -> str:
    """'attack: step 12 of 100 · about 30 s left'."""
    return f"{job.phase}: step {job.step} of {job.total}{time_left_text(job)}"


def time_left_text(job: Job) -> str:
    """' · about 30 s left' once the job has made a step, else ''."""
    seconds = job.time_left()
    return f" · about {seconds:.0f} s left" if seconds is not None else ""
