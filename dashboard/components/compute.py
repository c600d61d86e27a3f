"""Attacks on the CPU run in a process of their own, one per worker thread.

A thread's nice only orders it inside the server's Linux autogroup (its session), and it
shares the server's interpreter lock with the threads that serve pages. A child process in
a session of its own at the lowest priority (autogroup nice 19) yields the CPU to every
other program on the machine, a browser drawing a page on the same computer included, and
takes no lock from the server. The parent thread relays each step to the job's callback,
tells the child to stop when the callback says so, and ends the child when the job's stop
waits too long inside one step (a process, unlike a thread, can be ended at once).

A job alone on the server need not yield: its viewer's browser, redrawing the live view,
would take the core the attack needs. So the pool lets its children take a fair share while
one job runs and none waits (`share_cpu`; how, in `priority.py`).

The child is started as `python -c` with this module's `serve` and one end of a socket pair,
not through multiprocessing's spawn, which would first run the server's main script (under
Streamlit, the dashboard itself) in the child.

Models on a GPU, and models that cannot be sent to another process (TorchScript), run in
the calling thread as before.
"""

from __future__ import annotations

import copyreg
import io
import itertools
import json
import logging
import os
import pickle
import socket
import subprocess
import sys
import threading
import traceback
import weakref
from collections.abc import Callable
from multiprocessing.connection import Connection

import torch

import fragility as fg
from fragility.interrupt import check as check_interruption

from . import priority

POLL_SECONDS = 0.1        # how often a waiting parent asks whether the job was stopped
KEPT_MODELS = 4           # models a child keeps between jobs
# Forking a threaded server is unsafe: the child is a fresh interpreter.
# It finds modules where the server does (a model's class must be importable to arrive).
_CHILD_CODE = ("import json, sys; sys.path[:] = json.loads(sys.argv[2]); "
               "from dashboard.components import priority; priority.own_session(); "
               "from dashboard.components.compute import serve; serve(int(sys.argv[1]))")
# The server's log (failures.py sets it up); this module imports no Streamlit, so the child
# process starts without it.
LOG = logging.getLogger("fragility.dashboard")


# ---------------------------------------------------------------- transport
# Tensors cross the pipe by value, as numpy arrays. (multiprocessing's own pickler would move
# them to shared memory and keep a file descriptor open per tensor in both processes: 137
# for a ResNet-18, 13 per kept result, enough to run a server out of descriptors.)

def _tensor(array, requires_grad: bool) -> torch.Tensor:
    return torch.from_numpy(array).requires_grad_(requires_grad)


def _reduce_tensor(tensor: torch.Tensor):
    return _tensor, (tensor.detach().cpu().numpy(), tensor.requires_grad)


class _Pickler(pickle.Pickler):
    dispatch_table = copyreg.dispatch_table.copy()
    dispatch_table[torch.Tensor] = _reduce_tensor


def _send(pipe, message) -> None:
    """Pickle `message` first (an error leaves nothing half sent), then send it."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(message)
    pipe.send_bytes(buffer.getbuffer())


def _receive(pipe):
    return pickle.loads(pipe.recv_bytes())


def one_intra_op_thread() -> None:
    """One intra-op thread per computation, unless OMP_NUM_THREADS says otherwise.

    Parallel jobs with more would oversubscribe the cores, which stalls every OpenMP barrier
    (a 100-step attack on the bundled model: 1.7 s with one thread, 10.5 s with two when
    anything else runs).
    """
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)


class ComputeFailed(RuntimeError):
    """The child process failed in a way the attack itself did not report."""


class _Unsendable(Exception):
    """The model cannot be pickled; nothing was sent."""


def attack(model: fg.Model, images: torch.Tensor, *,
           callback: Callable[[int, dict], object] | None = None, **arguments) -> fg.AttackResult:
    """`fg.attack(model, images, callback=callback, **arguments)`, in this thread's child.

    The child stops at most one step after the callback returns False. Where there can be
    no child for this model, the calling thread computes.
    """
    child = _child_for(model)
    if child is not None:
        try:
            return child.attack(model, images, callback, arguments)
        except _Unsendable:
            _UNSENDABLE.add(model)
    return fg.attack(model, images, callback=callback, **arguments)


def _child_for(model) -> "Child | None":
    if not _sendable(model):
        return None
    try:
        child = prepare()
    except OSError:     # no child processes allowed here
        LOG.warning("no compute process could be started; the attack runs in a thread",
                    exc_info=True)
        return None
    if child.early and not child.ready():
        LOG.info("the compute process is still starting; this attack runs in the thread")
        return None
    return child


def prepare(early: bool = False) -> "Child":
    """This thread's child process, started now if it is not running. It takes seconds to
    import torch, so workers start theirs `early`, before their first job; a job never waits
    for such a child to start, but runs in the thread meanwhile."""
    thread = threading.current_thread()
    child = _BY_THREAD.get(thread)
    if child is None or not child.alive():
        child = _BY_THREAD[thread] = Child(early)
    return child


# thread -> its child, which ends once the thread object is gone (Child's finalizer)
_BY_THREAD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def share_cpu(threads, fully: bool) -> None:
    """The children of `threads` take a fair share of the CPU (`fully`), or yield it to
    every other program (as they start). Where Linux has no autogroups they always yield."""
    if not priority.autogroups():
        return
    for thread in list(threads):
        child = _BY_THREAD.get(thread)
        if child is not None and child.alive():
            priority.set_autogroup_nice(child.process.pid,
                                        0 if fully else priority.YIELDING_NICE)


def _sendable(model) -> bool:
    parameters = itertools.chain(model.parameters(), model.buffers())
    on_cpu = all(tensor.device.type == "cpu" for tensor in parameters)
    scripted = any(isinstance(module, torch.jit.ScriptModule) for module in model.modules())
    return on_cpu and not scripted and model not in _UNSENDABLE


_UNSENDABLE: weakref.WeakSet = weakref.WeakSet()


class Child:
    """One child process and the pipe to it; used by one thread at a time."""

    def __init__(self, early: bool = False):
        self.early = early
        self._ready = False
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _CHILD_CODE, str(theirs.fileno()), json.dumps(sys.path)],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._pipe = Connection(ours.detach())
        weakref.finalize(self, _end, self.process)    # also when the server exits
        self._sent: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # model -> key
        self._kept: list[int] = []    # the keys the child keeps, oldest first, as it does
        self._keys = itertools.count()

    def alive(self) -> bool:
        return self.process.poll() is None

    def ready(self) -> bool:
        """Whether the child has started: it says so once, before its first job."""
        if not self._ready:
            try:
                self._ready = self._pipe.poll() and _receive(self._pipe) == "ready"
            except (EOFError, OSError):
                return False
        return self._ready

    def _await_ready(self) -> None:
        while not self.ready():
            check_interruption()
            if not self.alive():
                raise ComputeFailed("the compute process ended unexpectedly (exit code "
                                    f"{self.process.poll()})")
            self._pipe.poll(POLL_SECONDS)

    def end(self) -> None:
        _end(self.process)
        self._pipe.close()

    def attack(self, model, images, callback, arguments) -> fg.AttackResult:
        """Send the job (the model only the first time) and relay its steps to `callback`.

        A model is sent once per child, so it must not change afterwards (the dashboard's
        cached models do not).
        """
        try:
            self._await_ready()
        except BaseException:
            self.end()
            raise
        key = self._sent.get(model)
        fresh = key not in self._kept
        if fresh:
            key = next(self._keys)
        try:
            _send(self._pipe, (key, model if fresh else None, images, arguments))
        except (pickle.PicklingError, TypeError, AttributeError, RuntimeError, ValueError) \
                as failure:   # nothing was sent: the object cannot be pickled
            LOG.info("a model could not be sent to a compute process (%s); it runs in a "
                     "thread", type(failure).__name__)
            raise _Unsendable from failure
        if fresh:
            self._sent[model] = key
            self._kept = [*self._kept, key][-KEPT_MODELS:]
        try:
            kind, value = self._relay(callback)
        except BaseException:    # a stop, a dead child, a failing callback: never reuse it
            self.end()
            raise
        if kind == "done":
            return value
        if kind == "error":      # the attack's own error: the child is ready for the next
            raise value
        LOG.error("the compute process failed:\n%s", value[1])
        raise ComputeFailed(value[0])

    def _relay(self, callback) -> tuple[str, object]:
        """Pass on the steps until the child's answer; ask it to stop once the callback says so."""
        stopping = False
        while True:
            check_interruption()      # a stop that waited too long ends the child
            try:
                if not self._pipe.poll(POLL_SECONDS):
                    continue
                kind, value = _receive(self._pipe)
            except (EOFError, OSError) as failure:
                raise ComputeFailed("the compute process ended unexpectedly (exit code "
                                    f"{self.process.poll()})") from failure
            if kind != "step":
                return kind, value
            if callback is not None and callback(*value) is False and not stopping:
                stopping = True
                _send(self._pipe, "stop")


def _end(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        LOG.warning("compute process %d did not end within 5 s of being killed", process.pid)


# ---------------------------------------------------------------- the child

def serve(fd: int) -> None:
    """The child's loop on socket `fd`: one attack per message until the parent goes away."""
    one_intra_op_thread()
    priority.lowest()
    pipe = Connection(fd)
    _send(pipe, "ready")
    models: dict[int, object] = {}
    while True:
        try:
            message = _receive(pipe)
        except (EOFError, OSError):
            return
        if message == "stop":         # for a job that had already ended
            continue
        key, model, images, arguments = message
        if model is not None:
            models[key] = model
            while len(models) > KEPT_MODELS:
                models.pop(next(iter(models)))
        if key in models:
            answer = _run(pipe, models[key], images, arguments)
        else:                         # the parent lost count: say so rather than crash
            answer = "bug", (f"no model {key} in the compute process", "")
        try:
            _send(pipe, answer)
        except Exception as failure:   # noqa: BLE001 - an answer that cannot be pickled
            _send(pipe, ("bug", (f"{type(failure).__name__}: {failure}", traceback.format_exc())))


def _run(pipe, model, images, arguments) -> tuple[str, object]:
    def relay(step: int, row: dict) -> bool:
        _send(pipe, ("step", (step, row)))
        return not (pipe.poll() and _receive(pipe) == "stop")
    try:
        return "done", fg.attack(model, images, callback=relay, **arguments)
    except fg.FragilityError as failure:
        return "error", failure
    except Exception as failure:    # noqa: BLE001 - reported to the parent, which logs it
        return "bug", (f"{type(failure).__name__}: {failure}", traceback.format_exc())
