"""The live view of a job: a progress line with Stop, and the job's pictures, each on its own clock.

Every redraw costs the server (the page's script and its pictures) and, more, the viewer's
browser (a Plotly chart is laid out again on each new figure). Measured with one attack
page on 2 cores: redrawing tiles and three charts every 0.35 s kept a browser tab at 93 %
of a core, the tiles alone 35 %, the whole view every second 43 %. So a job alone on the
server is drawn every `ALONE_SECONDS` (its viewer asked for the machine and has it), while
jobs that share it with others move their progress line (cheap) every `PROGRESS_SECONDS`
and their pictures every `CONTENT_SECONDS`. A job waiting in the queue shows only its
place in line, redrawn every `QUEUED_SECONDS`, or every `PROGRESS_SECONDS` once it is next
in line, so that its page says it runs soon after it starts.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from . import workers
from .state import Job

ALONE_SECONDS = 0.5
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
        # ended, left the queue, or its clock changed (next in line, or another job
        # arrived or left)
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

    every = content_seconds(job)

    @st.fragment(run_every=every)
    def pictures():
        # ended, or another job arrived or left (drawn again on the other clock)
        if not job.running or content_seconds(job) != every:
            st.rerun()
        content()
    pictures()


def header_seconds(job: Job) -> float:
    """How often the progress line is redrawn: rarely while the job waits behind others."""
    if job.waiting:
        return PROGRESS_SECONDS if workers.pool().position(job) == 1 else QUEUED_SECONDS
    return ALONE_SECONDS if workers.pool().alone() else PROGRESS_SECONDS


def content_seconds(job: Job) -> float:
    """How often a running job's pictures are redrawn: often when it has the server to itself."""
    return ALONE_SECONDS if workers.pool().alone() else CONTENT_SECONDS


def steps_text(job: Job) -> str:
    """'attack: step 12 of 100 · about 30 s left'."""
    return f"{job.phase}: step {job.step} of {job.total}{time_left_text(job)}"


def time_left_text(job: Job) -> str:
    """' · about 30 s left' once the job has made a step, else ''."""
    seconds = job.time_left()
    return f" · about {seconds:.0f} s left" if seconds is not None else ""
