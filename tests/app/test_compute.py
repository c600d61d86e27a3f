"""Attacks in a worker's child process: the same result as in the thread, each step relayed,
a stop obeyed within a step, errors brought back, and the child at the lowest priority in a
session of its own, ended at once when a stop waits too long inside one step."""

from __future__ import annotations

import os
import sys
import types
import threading

import pytest
import torch

import fragility as fg
from dashboard.components import compute, priority, state, workers
from app_driver import wait_until
from nets import SlowCNN, make_cnn

ARGUMENTS = dict(method="gradient", attack="top-k", steps=8, epsilon=8 / 255,
                 step_size=2 / 255, seed=0)


@pytest.fixture(scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)           # as in the child, so that the sums match bit for bit
    yield
    torch.set_num_threads(before)


@pytest.fixture
def images():
    return torch.rand(1, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(3))


def in_a_fresh_thread(function):
    """Run `function` in a new thread (a thread has one child), return what it returned."""
    out = {}

    def run():
        try:
            out["value"] = function()
        except BaseException as failure:   # noqa: BLE001 - re-raised in the test's thread
            out["error"] = failure
    thread = threading.Thread(target=run)
    thread.start()
    thread.join(120)
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_the_child_gives_the_threads_result_and_relays_every_step(one_thread, images):
    model = make_cnn()
    here_steps, child_steps = [], []
    here = fg.attack(model, images, callback=lambda step, row: here_steps.append(step), **ARGUMENTS)

    def in_child():
        first = compute.attack(model, images, **ARGUMENTS,
                               callback=lambda step, row: child_steps.append(
                                   (step, row["perturbed"].shape)))
        again = compute.attack(model, images, **ARGUMENTS)   # the model is not sent again
        return first, again, compute.prepare().process.pid
    first, again, pid = in_a_fresh_thread(in_child)
    assert pid != os.getpid()
    for result in (first, again):
        assert torch.equal(result.perturbed, here.perturbed)
        assert torch.equal(result.perturbed_maps, here.perturbed_maps)
        assert result.history == here.history
    assert [step for step, _ in child_steps] == here_steps
    assert child_steps[0][1] == images.shape


def test_a_callback_that_says_stop_ends_the_attack_within_a_step(images):
    seen = []

    def until_three(step, row):
        seen.append(step)
        return len(seen) < 3
    result = in_a_fresh_thread(lambda: compute.attack(make_cnn(), images, callback=until_three,
                                                      **{**ARGUMENTS, "steps": 50}))
    assert result.stopped_early
    assert 3 <= result.steps_run <= 4 and len(seen) == result.steps_run


def test_the_attacks_own_errors_come_back_as_they_are(images):
    with pytest.raises(fg.ConfigError, match="epsilon must be >= 0"):
        in_a_fresh_thread(lambda: compute.attack(make_cnn(), images,
                                                 **{**ARGUMENTS, "epsilon": -1.0}))


def lowest_priority(pid: int) -> bool:
    """Whether the child has made its session and yields: by its autogroup where Linux has
    them, else by its own nice."""
    if os.getsid(pid) != pid:
        return False
    if priority.autogroups():
        return priority.autogroup(pid)[1] == 19
    return os.getpriority(os.PRIO_PROCESS, pid) == 19


def test_the_child_runs_in_a_session_of_its_own_at_the_lowest_priority():
    child = in_a_fresh_thread(compute.prepare)   # held here: a child ends with its last holder
    pid = child.process.pid
    wait_until(lambda: lowest_priority(pid), 60)        # set once the child has started
    assert os.getsid(pid) != os.getsid(0)


@pytest.mark.skipif(not priority.autogroups(), reason="needs Linux autogroups")
def test_a_job_alone_on_the_server_takes_a_fair_share_until_another_arrives():
    pool = workers.Pool(1, start_compute=True)
    wait_until(lambda: compute._BY_THREAD.get(pool._threads[0]) is not None, 60)
    pid = compute._BY_THREAD[pool._threads[0]].process.pid
    wait_until(lambda: lowest_priority(pid), 60)
    server_group = priority.autogroup("self")
    release = threading.Event()
    first, second = (state.Job(name, lambda job: release.wait(30), total=1)
                     for name in ("first", "second"))
    pool.submit(first)
    try:
        wait_until(lambda: priority.autogroup(pid)[1] == 0, 10)      # alone: a fair share
        pool.submit(second)
        wait_until(lambda: priority.autogroup(pid)[1] == 19, 10)     # a queue: it yields
        assert priority.autogroup("self") == server_group            # the server's untouched
    finally:
        release.set()
    assert first.wait(30) and second.wait(30)


def test_a_stop_that_waits_too_long_inside_a_step_ends_the_child_at_once(images):
    asked = threading.Event()

    def slow_attack():
        child = compute.prepare()
        with fg.interruptible(lambda: "stopped for the test" if asked.is_set() else None):
            try:
                compute.attack(SlowCNN(), images,
                               **{**ARGUMENTS, "method": "integrated-gradients",
                                  "method_options": {"steps": 10_000}})
            except fg.Interrupted as stop:
                return str(stop), child, compute.prepare().process.pid
        return None
    threading.Timer(1.0, asked.set).start()
    message, child, next_pid = in_a_fresh_thread(slow_attack)
    assert message == "stopped for the test"
    assert child.process.poll() == -9          # ended by the parent, not at the step's end
    assert next_pid != child.process.pid       # a fresh child took its place


def test_a_child_that_dies_is_a_clear_error_and_is_replaced(images):
    def die_then_run():
        child = compute.prepare()
        wait_until(child.ready, 60)               # killed in its attack, not as it starts
        with fg.interruptible(lambda: None):
            timer = threading.Timer(1.0, child.process.kill)
            timer.start()
            with pytest.raises(compute.ComputeFailed, match="ended unexpectedly"):
                compute.attack(SlowCNN(), images, **{**ARGUMENTS, "steps": 1000})
        return compute.attack(make_cnn(), images, **ARGUMENTS)
    assert in_a_fresh_thread(die_then_run).steps_run == ARGUMENTS["steps"]


def test_models_that_cannot_be_sent_run_in_the_calling_thread(one_thread, images):
    scripted = torch.jit.script(make_cnn())
    assert not compute._sendable(scripted)
    result = in_a_fresh_thread(lambda: compute.attack(scripted, images, **ARGUMENTS))
    assert torch.equal(result.perturbed, fg.attack(scripted, images, **ARGUMENTS).perturbed)


def test_the_servers_pool_starts_its_compute_processes_before_the_first_attack():
    pool = workers.Pool(1, start_compute=True)
    wait_until(lambda: compute._BY_THREAD.get(pool._threads[0]) is not None, 30)
    child = compute._BY_THREAD[pool._threads[0]]
    assert child.alive() and child.early


def test_a_job_does_not_wait_for_a_child_started_early_but_runs_in_the_thread(one_thread, images):
    model = make_cnn()

    def first_attack_at_once():
        child = compute.prepare(early=True)
        result = compute.attack(model, images, **ARGUMENTS)     # the child still imports torch
        sent_first = child._sent.get(model)
        wait_until(child.ready, 60)
        again = compute.attack(model, images, **ARGUMENTS)
        return result, sent_first, again, child
    result, sent_first, again, child = in_a_fresh_thread(first_attack_at_once)
    assert sent_first is None                     # the first ran here
    here = fg.attack(model, images, **ARGUMENTS).perturbed
    assert torch.equal(result.perturbed, here) and torch.equal(again.perturbed, here)
    assert child._sent.get(model) is not None     # the second went to the child


def test_a_failing_callback_ends_the_child_so_no_stale_step_reaches_the_next_job(images):
    def broken(step, row):
        raise KeyError("a bug in the page")

    def fail_then_run():
        first = compute.prepare()
        with pytest.raises(KeyError):
            compute.attack(make_cnn(), images, callback=broken, **{**ARGUMENTS, "steps": 200})
        steps = []
        result = compute.attack(make_cnn(), images, callback=lambda s, r: steps.append(s),
                                **ARGUMENTS)
        return first, compute.prepare(), steps, result
    first, second, steps, result = in_a_fresh_thread(fail_then_run)
    assert first is not second and not first.alive()
    assert steps == list(range(1, ARGUMENTS["steps"] + 1)) and result.steps_run == ARGUMENTS["steps"]


def test_a_child_keeps_a_few_models_and_is_sent_again_one_it_let_go(one_thread, images):
    models = [make_cnn() for _ in range(compute.KEPT_MODELS + 1)]
    for number, model in enumerate(models):       # make the models differ
        with torch.no_grad():
            next(model.parameters()).mul_(1 + number / 10)
    expected = [fg.attack(model, images, **ARGUMENTS).perturbed for model in models]

    def each_then_the_first_again():
        return [compute.attack(model, images, **ARGUMENTS).perturbed
                for model in [*models, models[0], models[-1]]]
    got = in_a_fresh_thread(each_then_the_first_again)
    for perturbed, want in zip(got, [*expected, expected[0], expected[-1]]):
        assert torch.equal(perturbed, want)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_tensors_cross_by_value_so_no_file_descriptor_is_held_per_tensor(images):
    model = make_cnn()

    def attacks_kept():
        compute.attack(model, images, **ARGUMENTS)                 # the child and the model
        before = len(os.listdir("/proc/self/fd"))
        kept = [compute.attack(make_cnn(), images, **ARGUMENTS) for _ in range(5)]
        return before, len(os.listdir("/proc/self/fd")), kept
    before, after, kept = in_a_fresh_thread(attacks_kept)
    assert len(kept) == 5 and after - before < 5       # shared memory would hold 13 per result
    assert not any(parameter.is_shared() for parameter in model.parameters())


def test_where_no_process_can_be_started_the_attack_runs_in_the_thread(one_thread, images,
                                                                        monkeypatch):
    def refused(self, *arguments):
        raise OSError("process creation is not allowed here")
    monkeypatch.setattr(compute.Child, "__init__", refused)
    model = make_cnn()
    result = in_a_fresh_thread(lambda: compute.attack(model, images, **ARGUMENTS))
    assert torch.equal(result.perturbed, fg.attack(model, images, **ARGUMENTS).perturbed)
    job = state.Job("after a refused start", lambda job: "ran", total=1)
    workers.Pool(1, start_compute=True).submit(job)
    assert job.wait(30) and job.result == "ran"     # the worker kept working


def test_a_model_that_cannot_be_pickled_runs_in_the_thread_and_is_not_tried_again(
        one_thread, images):
    class Local(torch.nn.Module):         # a class inside a function cannot be pickled
        def __init__(self):
            super().__init__()
            self.net = make_cnn()

        def forward(self, x):
            return self.net(x)
    model = Local()
    result = in_a_fresh_thread(lambda: compute.attack(model, images, **ARGUMENTS))
    assert torch.equal(result.perturbed, fg.attack(model, images, **ARGUMENTS).perturbed)
    assert not compute._sendable(model)


def test_the_child_does_not_run_the_servers_main_script(images, tmp_path, monkeypatch):
    """Under Streamlit the main module is the dashboard's own script; a child started by
    multiprocessing's spawn would run it first (a whole page in bare mode, and a pool)."""
    marker = tmp_path / "ran"
    script = tmp_path / "page.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    page = types.ModuleType("__main__")
    page.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", page)

    def attack_in_a_fresh_child():
        child = compute.prepare()
        return child, compute.attack(make_cnn(), images, **ARGUMENTS)
    child, result = in_a_fresh_thread(attack_in_a_fresh_child)
    assert child.alive() and result.steps_run == ARGUMENTS["steps"]
    assert not marker.exists()
