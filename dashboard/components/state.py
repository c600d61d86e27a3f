"""What survives reruns: cached models, and attack jobs that run beside the page.

An attack runs in a worker thread owned by the browser session (st.session_state), so the
page stays responsive while it runs: widgets rerun the script, which only reads the job's
latest snapshot; Stop sets an event that the attack's callback turns into `False`.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import streamlit as st
import torch

import fragility as fg

MAX_JOBS = 12   # finished results kept per browser session


# ---------------------------------------------------------------- models

@st.cache_resource(show_spinner="Loading model…", max_entries=6)
def named_model(name: str) -> fg.Model:
    """A model from the registry ("bundled" or a torchvision name), shared by all sessions."""
    return fg.load_model(name)


@st.cache_resource(show_spinner="Loading your model…", max_entries=4)
def uploaded_model(digest: str, file_name: str, architecture: str | None, labels_digest: str,
                   _data: bytes, _labels: list[str] | None) -> fg.Model:
    """A TorchScript file (architecture None) or a state dict for `architecture`."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(file_name).name
        path.write_bytes(_data)
        model = fg.load_model(str(path)) if architecture is None else \
            fg.load_model(architecture, weights=str(path))
    return fg.wrap_model(model, labels=_labels) if _labels else model


@st.cache_resource(show_spinner=False, max_entries=2)
def relabelled(name: str, labels_digest: str, _labels: list[str]) -> fg.Model:
    """A named model shown with your own labels (a new wrapper; the cached model is untouched)."""
    return fg.wrap_model(named_model(name), labels=_labels)


def parse_labels(data: bytes, file_name: str) -> list[str]:
    """Labels from a .txt (one per line) or .json (a list, or a dict index -> name) file."""
    text = data.decode("utf-8", errors="strict")
    if file_name.lower().endswith(".json"):
        parsed = json.loads(text)
        if isinstance(parsed, dict):
            return [str(parsed[key]) for key in sorted(parsed, key=lambda key: int(key))]
        return [str(label) for label in parsed]
    return [line.strip() for line in text.splitlines() if line.strip()]


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

class Job:
    """One computation (an attack, or a series of them) running in a worker thread."""

    def __init__(self, key: str, work: Callable[["Job"], object], total: int):
        self.key = key
        self.total = total
        self.step = 0
        self.phase = "queued"
        self.started = time.monotonic()
        self.finished: float | None = None
        self.stop = threading.Event()
        self.history: list[dict] = []
        self.baseline_history: list[dict] = []
        self.center_path: list[tuple[float, float]] = []
        self.snapshot: dict | None = None     # best-so-far tensors, for live tiles
        self.partial: list = []               # finished parts (the compare view)
        self.result = None
        self.error: str | None = None
        self._work = work
        self._thread = threading.Thread(target=self._run, name=f"fragility-{key[:8]}", daemon=True)

    def start(self) -> "Job":
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def stopped(self) -> bool:
        return self.stop.is_set()

    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def time_left(self) -> float | None:
        if self.step <= 0:
            return None
        return self.elapsed() / self.step * max(self.total - self.step, 0)

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

    def _run(self) -> None:
        try:
            self.phase = "running"
            self.result = self._work(self)
        except fg.FragilityError as error:
            self.error = str(error)
        except Exception as error:  # shown in place; the page keeps working
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.finished = time.monotonic()
            self.phase = "stopped" if self.stopped else "done"


def jobs() -> dict[str, Job]:
    return st.session_state.setdefault("jobs", {})


def start_job(key: str, work: Callable[[Job], object], total: int) -> Job:
    """Start `work` for `key`, stopping this session's other running jobs first."""
    for other in jobs().values():
        if other.running:
            other.stop.set()
    job = Job(key, work, total)
    store = jobs()
    store.pop(key, None)
    store[key] = job
    while len(store) > MAX_JOBS:
        store.pop(next(iter(store)))
    return job.start()


def config_key(config: dict) -> str:
    return hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:20]
