"""The live view of a job: a waiting job shows its place in line only, a running one its
progress and pictures, each redrawn on its own clock."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from dashboard.components import live


def live_page(phase: str, began: bool):
    """A page that shows the live view of one job in the given state."""
    from dashboard.components import live, state

    import streamlit as st

    if "job" not in st.session_state:
        job = state.Job("job", lambda job: None, total=10)
        job.phase, job.step = phase, 4
        if began:
            job._began = job.started
        st.session_state["job"] = job
    job = st.session_state["job"]
    st.session_state.setdefault("redraws", 0)

    def content():
        st.session_state["redraws"] += 1
        st.markdown("live pictures")

    live.show(job, "stop_job", live.steps_text, content)


def run(phase: str, began: bool) -> AppTest:
    app = AppTest.from_function(live_page, kwargs={"phase": phase, "began": began},
                                default_timeout=30)
    return app.run()


def test_a_waiting_job_shows_its_place_in_line_and_no_pictures():
    app = run("waiting for a free worker (3rd in line; 1 run at a time)", began=False)
    assert not app.exception
    assert [bar.proto.text for bar in app.get("progress")] == [
        "waiting for a free worker (3rd in line; 1 run at a time)"]
    assert app.session_state["redraws"] == 0
    assert [button.label for button in app.button] == ["Stop"]


def test_a_running_job_shows_its_progress_and_its_pictures():
    app = run("attack", began=True)
    assert not app.exception
    (bar,) = app.get("progress")
    assert bar.proto.text.startswith("attack: step 4 of 10")
    assert bar.proto.value == 40
    assert app.session_state["redraws"] == 1
    assert "live pictures" in [text.value for text in app.markdown]


def test_stop_sets_the_jobs_stop():
    app = run("attack", began=True)
    assert not app.session_state["job"].stopped
    app.button(key="stop_job").click().run()
    assert not app.exception
    assert app.session_state["job"].stopped


def test_pictures_redraw_less_often_than_the_progress_line():
    assert live.ALONE_SECONDS < live.PROGRESS_SECONDS < live.CONTENT_SECONDS <= live.QUEUED_SECONDS
    assert live.ALONE_SECONDS <= 0.5    # the live view's goal: two redraws a second


def test_a_job_alone_on_the_server_is_drawn_fast_until_another_arrives(monkeypatch):
    import threading

    from dashboard.components import state, workers

    pool = workers.Pool(1)
    monkeypatch.setattr(workers, "pool", lambda: pool)
    release = threading.Event()
    first, second = (state.Job(name, lambda job: release.wait(10), total=1)
                     for name in ("first", "second"))
    pool.submit(first)
    try:
        while first.waiting:
            time.sleep(0.01)
        assert live.header_seconds(first) == live.content_seconds(first) == live.ALONE_SECONDS
        pool.submit(second)
        assert live.header_seconds(first) == live.PROGRESS_SECONDS
        assert live.content_seconds(first) == live.CONTENT_SECONDS
    finally:
        release.set()
    assert first.wait(10) and second.wait(10)


def test_a_waiting_job_is_redrawn_often_once_it_is_next_in_line(monkeypatch):
    import threading

    from dashboard.components import state, workers

    pool = workers.Pool(1)
    monkeypatch.setattr(workers, "pool", lambda: pool)
    release = threading.Event()
    first, second, third = (state.Job(name, lambda job: release.wait(10), total=1)
                            for name in ("first", "second", "third"))
    for job in (first, second, third):
        pool.submit(job)
    try:
        while first.waiting:
            time.sleep(0.01)
        assert [live.header_seconds(job) for job in (first, second, third)] == [
            live.PROGRESS_SECONDS, live.PROGRESS_SECONDS, live.QUEUED_SECONDS]
        assert pool.position(third) == 2
        pool.cancel(second)               # the third moves up: next in line
        assert live.header_seconds(third) == live.PROGRESS_SECONDS
    finally:
        release.set()
    assert third.wait(10) and first.wait(10)
