"""What survives reruns: cached models and images, and the jobs that run beside the page.

A job (an attack, or a series of them) runs on the server's bounded worker pool
(`workers.py`), so the page stays responsive while it runs: widgets rerun the script,
which only reads the job's latest snapshot. Stop sets an event that the attack's
callback turns into `False` between steps; a step that runs on for longer than
`STOP_GRACE_SECONDS` after a stop is ended inside the model's next call.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import json
import os
import threading
import time
from collections.abc import Callable

import streamlit as st
import torch

import fragility as fg
from fragility.models.trial import trial_run

from . import panels, workers
from .failures import Unexpected

MAX_JOBS = 12   # finished results kept per browser session
STOP_GRACE_SECONDS = 2.0
IMAGE_SIZE = 224          # uploads for a model that declares no input size
_DECODES = threading.BoundedSemaphore(2)   # full-size image decodes at once, server-wide


def job_seconds() -> float:
    """FRAGILITY_JOB_SECONDS (default 600): the time budget of one job."""
    try:
        return max(1.0, float(os.environ.get("FRAGILITY_JOB_SECONDS", "600")))
    except ValueError:
        return 600.0


def trial_seconds() -> float:
    """FRAGILITY_TRIAL_SECONDS (default 30): load and one probe batch of a TorchScript file."""
    try:
        return max(1.0, float(os.environ.get("FRAGILITY_TRIAL_SECONDS", "30")))
    except ValueError:
        return 30.0


# ---------------------------------------------------------------- models

@st.cache_resource(show_spinner="Loading model…", max_entries=6)
def named_model(name: str) -> fg.Model:
    """A model from the registry ("bundled" or a torchvision name), shared by all sessions."""
    return fg.load_model(name)


_REFUSED: collections.OrderedDict[tuple, str] = collections.OrderedDict()   # key -> message
_REFUSED_LOCK = threading.Lock()
REFUSED_KEPT = 64     # refusals remembered server-wide, the oldest forgotten first


def uploaded_model(digest: str, file_name: str, architecture: str | None,
                   input_size: int | None, data: bytes) -> fg.Model:
    """The model in an upload, loaded once per server; a refused file is remembered by its
    hash, so that no rerun (and no other visitor) makes the server read it again."""
    key = (digest, file_name, architecture, input_size)
    with _REFUSED_LOCK:
        refused = _REFUSED.get(key)
    if refused is not None:
        raise fg.ModelError(refused)
    try:
        return _uploaded_model(digest, file_name, architecture, input_size, data)
    except fg.FragilityError as error:
        with _REFUSED_LOCK:
            _REFUSED[key] = str(error)
            while len(_REFUSED) > REFUSED_KEPT:
                _REFUSED.popitem(last=False)
        raise


@st.cache_resource(show_spinner="Loading your model…", max_entries=4)
def _uploaded_model(digest: str, file_name: str, architecture: str | None,
                    input_size: int | None, _data: bytes) -> fg.Model:
    """A TorchScript file (architecture None) or a state dict for `architecture`.

    TorchScript runs code from the file: it is first tried in a child process under a
    time budget (so a file that hangs or crashes cannot take the server with it), then
    loaded here and checked with a probe batch at `input_size`.
    """
    upload = fg.ModelFile(file_name, _data)
    if architecture is None:
        trial_run(upload, input_size, trial_seconds())
        model = fg.load_model(upload)
    else:
        model = fg.load_model(architecture, weights=upload)
    return fg.wrap_model(model, input_size=input_size) if input_size else model


@st.cache_resource(show_spinner=False, max_entries=4)
def relabelled(model_key: str, labels_digest: str, _model: fg.Model,
               _labels: list[str]) -> fg.Model:
    """A model shown with your own labels (a new wrapper; the cached model is untouched)."""
    return fg.wrap_model(_model, labels=_labels)


# ---------------------------------------------------------------- images

def uploaded_image(data: bytes, name: str, size: int) -> torch.Tensor:
    """The upload decoded once, at the model's size; the session keeps this one copy.

    A failure is remembered too, so a broken or huge file is not decoded again on
    every rerun.
    """
    key = (digest(data), name, size)
    held = st.session_state.get("uploaded_image")
    if held is None or held[0] != key:
        st.session_state.pop("uploaded_image", None)      # drop the old copy first
        try:
            held = (key, _decoded(*key, _data=data))
        except fg.FragilityError as error:
            held = (key, error)
        st.session_state["uploaded_image"] = held
    if isinstance(held[1], Exception):
        raise held[1]
    return held[1]


@st.cache_resource(show_spinner="Reading the image…", max_entries=8)
def _decoded(data_digest: str, name: str, size: int, _data: bytes) -> torch.Tensor:
    with _DECODES:    # a large file needs its full-size pixels once while it is shrunk
        return fg.load_image(_data, size=size, name=name)


@st.cache_resource(show_spinner=False, max_entries=64)
def sample_image(name: str, size: int) -> torch.Tensor:
    """A gallery image at `size`, decoded once per server."""
    return fg.get_sample(name).load(size=size)


THUMBNAIL = 44   # pixels
THUMBNAILS_PER_ROW = 5


@st.cache_resource(show_spinner=False, max_entries=8)
def gallery_png(names: tuple[str, ...], size: int) -> bytes:
    """The gallery's thumbnails as one PNG, drawn once per server: a page loads one picture,
    not one per thumbnail, and the server encodes none on a rerun. Show it at its own
    width: Streamlit shrinks and encodes again, on every rerun, a picture shown narrower."""
    sheet = panels.contact_sheet([sample_image(name, size) for name in names],
                                 size=THUMBNAIL, per_row=THUMBNAILS_PER_ROW, gap=THUMBNAIL // 7)
    return panels.png_bytes(sheet)


def digest(data: bytes | torch.Tensor | None) -> str:
    if data is None:
        return "none"
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().contiguous().numpy().tobytes()
    return hashlib.sha1(data).hexdigest()[:16]


def device_name(model: fg.Model) -> str:
    device = model.device
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return "CPU"


def predictions(model: fg.Model, images: torch.Tensor) -> list[tuple[str, float]]:
    """(label name, confidence) of the top class of each image."""
    labels, confidence = fg.predict(model, images)
    return [(model.label_name(int(i)), float(c)) for i, c in zip(labels, confidence)]


# ---------------------------------------------------------------- jobs

class _Stop(threading.Event):
    """The stop request of a job: when it came, and why."""

    def __init__(self):
        super().__init__()
        self.at: float | None = None
        self.reason = "you pressed Stop"

    def set(self, reason: str | None = None) -> None:
        if not self.is_set():
            self.at = time.monotonic()
            if reason:
                self.reason = reason
        super().set()


class Job:
    """One computation (an attack, or a series of them) run by the worker pool."""

    _numbers = itertools.count(1)

    def __init__(self, key: str, work: Callable[["Job"], object], total: int,
                 budget: float | None = None):
        self.key = key
        self.number = next(Job._numbers)      # names the job in the server's log
        self.total = total
        self.step = 0
        self.phase = "queued"
        self.started = self.queued_at = time.monotonic()
        self.finished: float | None = None
        self.stop = _Stop()
        self.history: list[dict] = []
        self.baseline_history: list[dict] = []
        self.baseline_ran = False             # a random-sign baseline was computed in this job
        self.center_path: list[tuple[float, float]] = []
        self.snapshot: dict | None = None     # best-so-far tensors, for live tiles
        self.partial: list = []               # finished parts (the compare view)
        self.result = None
        self.error: str | None = None
        self.unexpected: Unexpected | None = None
        self.budget = budget or job_seconds()
        self.session_id = _session_id()
        self.worker: threading.Thread | None = None
        self._work = work
        self._began: float | None = None
        self._done = threading.Event()
        self._given_up = False

    def start(self) -> "Job":
        workers.pool().submit(self)
        return self

    @property
    def running(self) -> bool:
        """Waiting in the queue or computing."""
        return not self._done.is_set()

    @property
    def waiting(self) -> bool:
        return self._began is None and self.running

    @property
    def stopped(self) -> bool:
        return self.stop.is_set()

    @property
    def stop_reason(self) -> str | None:
        return self.stop.reason if self.stop.is_set() else None

    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def whole_time(self) -> float:
        """Seconds since the job left the queue, all its phases (elapsed(): its last phase)."""
        if self._began is None:
            return 0.0
        return (self.finished or time.monotonic()) - self._began

    def time_left(self) -> float | None:
        if self.step <= 0:
            return None
        return self.elapsed() / self.step * max(self.total - self.step, 0)

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def callback(self, history: list[dict], with_path: bool = False):
        """The attack's callback: record the row, keep the best-so-far tensors, obey Stop."""
        def record(step: int, row: dict) -> bool:
            history.append({key: value for key, value in row.items()
                            if not isinstance(value, torch.Tensor)})
            if with_path:
                maps = row["perturbed_maps"].detach()
                self.center_path.append(tuple(fg.metrics.center_of_mass(maps)[0].tolist()))
                self.snapshot = {"perturbed": row["perturbed"].detach().clone(),
                                 "perturbed_maps": maps.clone(), "step": step}
            self.step += 1
            return not self.stop.is_set()
        return record

    # -- called by the pool's threads

    def request_stop(self, reason: str) -> bool:
        """Stop for `reason`; False if a stop was already requested."""
        if self.stop.is_set():
            return False
        self.stop.set(reason)
        return True

    def over_budget(self, now: float) -> bool:
        return (self._began is not None and self.running and not self.stop.is_set()
                and now - self._began > self.budget)

    def stuck(self, now: float, after: float) -> bool:
        """Still inside a call `after` seconds after a stop was requested."""
        return (self._began is not None and self.running and self.stop.at is not None
                and now - self.stop.at > after)

    def execute(self) -> None:
        self._began = self.started = time.monotonic()
        self.phase = "running"
        workers.LOG.info("job %d started after %.2f s in the queue", self.number,
                         self._began - self.queued_at)
        result, error, unexpected = None, None, None
        try:
            with fg.interruptible(self._interruption):
                result = self._work(self)
        except fg.FragilityError as failure:   # Interrupted included: it says why
            error = str(failure)
        except Exception as failure:            # shown in place; the page keeps working
            unexpected = Unexpected(failure, "computing")
            error = str(unexpected)
        if self._given_up:
            return
        self.result, self.error, self.unexpected = result, error, unexpected
        self._finish()

    def finish_unstarted(self) -> None:
        """Taken out of the queue before it ran."""
        self.error = f"Not started: {self.stop.reason}."
        self._finish()

    def give_up(self, after: float) -> None:
        self._given_up = True
        self.error = (f"Stopped because {self.stop.reason}, but the model's forward pass had "
                      f"not returned {after:g} s later, so the dashboard gave up on this run. "
                      "A model whose forward pass does not return cannot be used here.")
        self._finish()

    def _finish(self) -> None:
        self.finished = time.monotonic()
        # the whole run (elapsed() restarts with a job's last phase, for its steps and time left)
        workers.LOG.info("job %d %s after %.2f s", self.number,
                         "stopped" if self.stopped else "finished", self.whole_time())
        self.phase = "stopped" if self.stopped else "done"
        self._done.set()

    def _interruption(self) -> str | None:
        """Why to end the computation inside a model call, once a stop has waited too long."""
        if self.stop.at is None or time.monotonic() - self.stop.at < STOP_GRACE_SECONDS:
            return None
        return (f"Stopped because {self.stop.reason}, in the middle of a step: a step of "
                f"this model and method takes more than {STOP_GRACE_SECONDS:g} s, so there "
                "is no finished step to show.")


def _session_id() -> str | None:
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    context = get_script_run_ctx(suppress_warning=True)
    return context.session_id if context is not None else None


def show_error(job: Job) -> None:
    """A job's error in place: its message, or for a bug a sentence and a details expander."""
    if job.unexpected is not None:
        job.unexpected.show()
    else:
        from .failures import escape
        st.error(escape(job.error))


def stop_note(job: Job) -> str:
    """' because ...' when a job was stopped for another reason than the Stop button."""
    reason = job.stop_reason
    return "" if reason in (None, "you pressed Stop") else f" because {reason}"


def jobs() -> dict[str, Job]:
    return st.session_state.setdefault("jobs", {})


def start_job(key: str, work: Callable[[Job], object], total: int) -> Job:
    """Queue `work` for `key`, stopping this session's other jobs first."""
    for other in jobs().values():
        if other.running:
            other.request_stop("a new run was started")
            workers.pool().cancel(other)
    job = Job(key, work, total)
    store = jobs()
    store.pop(key, None)
    store[key] = job
    while len(store) > MAX_JOBS:
        store.pop(next(iter(store)))
    return job.start()


def config_key(config: dict) -> str:
    return hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:20]
