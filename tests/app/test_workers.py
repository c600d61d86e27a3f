"""The dashboard's worker pool: bounded, first come first served, with places in line; jobs
stop when their session ends, when their time budget runs out, and inside a long step."""

from __future__ import annotations

import threading
import time

import pytest
import torch

import fragility as fg
from dashboard.components import state, workers
from app_driver import wait_until
from nets import SlowCNN, make_cnn


def job(work, key="job", budget=None) -> state.Job:
    return state.Job(key, work, total=1, budget=budget)


@pytest.fixture
def pool():
    return workers.Pool(2)


def test_at_most_size_jobs_run_and_the_rest_wait_in_order(pool):
    releases, running, most, order = [threading.Event() for _ in range(5)], [0], [0], []
    lock = threading.Lock()

    def work(number):
        def run(job):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
                order.append(number)
            releases[number].wait(20)
            with lock:
                running[0] -= 1
            return number
        return run

    jobs = [job(work(number), key=f"j{number}") for number in range(5)]
    for each in jobs:
        pool.submit(each)
    wait_until(lambda: pool.load() == (2, 3))
    assert [pool.position(each) for each in jobs[2:]] == [1, 2, 3]
    assert jobs[2].phase == "waiting for a free worker (1st in line; 2 runs at a time)"
    assert jobs[4].phase.startswith("waiting for a free worker (3rd in line")
    assert jobs[3].waiting and jobs[3].running
    for number in range(5):          # one worker frees at a time: it takes the first in line
        releases[number].set()
        wait_until(lambda: len(order) == min(5, number + 3))
    for each in jobs:
        assert each.wait(20)
    assert most[0] == 2 and sorted(order[:2]) == [0, 1] and order[2:] == [2, 3, 4]
    assert [each.result for each in jobs] == list(range(5))


def test_a_waiting_job_can_be_cancelled(pool):
    release = threading.Event()
    blockers = [job(lambda j: release.wait(20), key=f"b{i}") for i in range(2)]
    for blocker in blockers:
        pool.submit(blocker)
    queued = job(lambda j: "never")
    pool.submit(queued)
    wait_until(lambda: pool.load() == (2, 1))
    queued.request_stop("a new run was started")
    assert pool.cancel(queued)
    assert not queued.running and queued.result is None
    assert queued.error == "Not started: a new run was started."
    release.set()


def test_jobs_of_a_closed_session_are_stopped_and_dequeued(pool, monkeypatch):
    monkeypatch.setattr(workers, "SESSION_GRACE_SECONDS", 0.2)
    gone = set()
    monkeypatch.setattr(workers, "_session_active", lambda session: session not in gone)

    def attack(job):
        return fg.attack(make_cnn(), torch.rand(1, 3, 16, 16, dtype=torch.float64),
                         steps=100_000, callback=job.callback(job.history))

    jobs = [job(attack, key=f"s{i}") for i in range(3)]
    for each in jobs:
        each.session_id = "closed-tab"
        pool.submit(each)
    wait_until(lambda: pool.load() == (2, 1) and all(each.step for each in jobs[:2]))
    gone.add("closed-tab")                         # the tab is closed
    for each in jobs:
        assert each.wait(30)
    running = [each for each in jobs if each.result is not None]
    assert len(running) == 2                       # the third never started
    for each in running:
        assert each.result.stopped_early and each.stop_reason == "the browser tab was closed"
        assert state.stop_note(each) == " because the browser tab was closed"
    assert [each.error for each in jobs if each.result is None] == \
        ["Not started: the browser tab was closed."]


def test_time_budget_stops_between_steps(pool):
    def attack(job):
        return fg.attack(make_cnn(), torch.rand(1, 3, 16, 16, dtype=torch.float64),
                         steps=100_000, callback=job.callback(job.history))

    budgeted = job(attack, budget=1.0)
    pool.submit(budgeted)
    assert budgeted.wait(30)
    assert budgeted.result.stopped_early and budgeted.result.steps_run > 0
    assert budgeted.stop_reason == "it ran out of its time budget of 1 s"


def test_a_slow_step_is_ended_inside_the_model_call(pool, monkeypatch):
    monkeypatch.setattr(state, "STOP_GRACE_SECONDS", 0.3)

    def attack(job):          # integrated gradients with many points: one long step
        return fg.attack(SlowCNN(), torch.rand(1, 3, 16, 16, dtype=torch.float64), steps=5,
                         method="integrated-gradients", method_options={"steps": 10_000},
                         callback=job.callback(job.history))

    slow = job(attack)
    pool.submit(slow)
    wait_until(lambda: not slow.waiting)
    time.sleep(0.3)
    slow.stop.set()                                # the Stop button
    assert slow.wait(20)
    assert slow.result is None and slow.history == []
    assert slow.error.startswith("Stopped because you pressed Stop, in the middle of a step")


def test_a_call_that_never_returns_is_given_up_and_its_worker_replaced(monkeypatch):
    monkeypatch.setattr(workers, "LOST_AFTER_SECONDS", 0.5)
    pool = workers.Pool(1)
    release = threading.Event()
    stuck = job(lambda j: release.wait(60))        # like a TorchScript loop: no checks inside
    pool.submit(stuck)
    wait_until(lambda: not stuck.waiting)
    after = job(lambda j: "ran")
    pool.submit(after)
    stuck.stop.set()
    assert stuck.wait(20)
    assert stuck.error.startswith("Stopped because you pressed Stop, but the model's forward "
                                  "pass had not returned 0.5 s later")
    assert after.wait(20) and after.result == "ran"      # a fresh worker took the queue
    release.set()                                        # the old thread ends and retires
    wait_until(lambda: not stuck.worker.is_alive())
    assert stuck.result is None


def test_worker_count(monkeypatch):
    monkeypatch.setenv("FRAGILITY_WORKERS", "3")
    assert workers.worker_count() == 3
    monkeypatch.delenv("FRAGILITY_WORKERS")
    expected = torch.cuda.device_count() if torch.cuda.is_available() else \
        max(1, len(__import__("os").sched_getaffinity(0)) // 2)
    assert workers.worker_count() == expected


def test_workers_run_at_a_lower_priority_than_the_pages(pool):
    import os
    niceness = job(lambda j: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    pool.submit(niceness)
    assert niceness.wait(20)
    assert niceness.result == min(19, os.getpriority(os.PRIO_PROCESS, 0) + workers.WORKER_NICE)
