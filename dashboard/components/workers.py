"""A bounded pool of worker threads that runs every session's jobs, first come first served.

A room of people shares one machine: each job (an attack, a comparison, a sanity check)
waits in one queue and runs on one of a few worker threads (one per CPU core with one
intra-op thread each, or one per GPU; `FRAGILITY_WORKERS` overrides). A session has at
most one job at a time (starting one stops its previous one), so the queue is fair.
Workers run at a lower CPU priority than the threads that serve pages, and each has a child
process (`compute.py`) that runs its attacks below every other program on the machine,
unless its job is the only one on the server.

A watchdog stops the jobs of sessions that have ended (the tab was closed) and jobs past
their time budget; a stop is honoured between attack steps by the job's callback, and
inside a long step by the model wrapper (`fragility.interruptible`). A job whose model
call never returns (code in an uploaded TorchScript file can loop forever in C++, where
nothing can stop a thread) is given up: the page is told, and a fresh worker takes its
place so that the queue keeps moving.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

import torch

from . import compute
from .failures import LOG

WATCH_SECONDS = 0.5           # how often the watchdog looks at sessions and budgets
SESSION_GRACE_SECONDS = 3.0   # a session gone this long has ended (not a reconnect)
LOST_AFTER_SECONDS = 30.0     # a stopped job that has not returned by then is given up
# Workers run at the lowest CPU priority (Linux nice, per thread), below the server's threads
# that serve pages and run their scripts, so a new visitor's script run comes first (a page
# run beside two attacks on 2 cores: 1.6 s at equal priority, 0.55 s at nice 10, 0.5 s with
# nothing running). Nice orders threads only inside the server's Linux autogroup (its
# session): a browser on the same machine shares the CPU with the server as a whole.
WORKER_NICE = 19


def worker_count() -> int:
    """FRAGILITY_WORKERS, else one per GPU, else one per two CPU cores this process may use.

    Half the cores stay for serving pages and for what else runs on the machine (with the
    attacks in worker threads, 8 attacks of 100 steps on 2 cores finished after 135 s with
    one worker and 175 s with two).
    """
    configured = os.environ.get("FRAGILITY_WORKERS", "").strip()
    if configured:
        return max(1, int(configured))
    if torch.cuda.is_available():
        return max(1, torch.cuda.device_count())
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:   # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // 2)


def _session_active(session_id: str | None) -> bool:
    """False once the browser session is gone; True when it is unknown (tests, no server)."""
    if session_id is None:
        return True
    from streamlit import runtime
    if not runtime.exists():
        return True
    return bool(runtime.get_instance().is_active_session(session_id))


class Pool:
    """A FIFO queue of jobs and `size` worker threads, with a watchdog."""

    def __init__(self, size: int, start_compute: bool = False):
        """`start_compute`: each worker starts its compute process at once (the server's
        pool), rather than on its first attack."""
        self.size = size
        self._start_compute = start_compute and not torch.cuda.is_available()
        self._waiting: deque = deque()
        self._running: set = set()
        self._lock = threading.Condition()
        self._gone_since: dict[str, float] = {}
        self._threads: list[threading.Thread] = []
        for number in range(size):
            self._start_worker(number)
        threading.Thread(target=self._watch, name="fragility-watchdog", daemon=True).start()

    # ------------------------------------------------------------ queue

    def submit(self, job) -> None:
        with self._lock:
            self._waiting.append(job)
            self._renumber()
            self._lock.notify()

    def cancel(self, job) -> bool:
        """Take a job out of the queue before it starts; True if it was waiting."""
        with self._lock:
            if job not in self._waiting:
                return False
            self._waiting.remove(job)
            self._renumber()
        job.finish_unstarted()
        return True

    def position(self, job) -> int | None:
        """1 for the next job to start, None once it runs."""
        with self._lock:
            try:
                return self._waiting.index(job) + 1
            except ValueError:
                return None

    def load(self) -> tuple[int, int]:
        """(running, waiting) jobs."""
        with self._lock:
            return len(self._running), len(self._waiting)

    def alone(self) -> bool:
        """Whether one job runs and none waits: it may have the machine to itself."""
        return self.load() == (1, 0)

    def _renumber(self) -> None:
        """Tell each waiting job its place in line (shown on its page). Holds the lock."""
        for place, job in enumerate(self._waiting, start=1):
            job.phase = (f"waiting for a free worker ({_ordinal(place)} in line; "
                         f"{self.size} {'run' if self.size == 1 else 'runs'} at a time)")

    # ------------------------------------------------------------ workers

    def _start_worker(self, number: int) -> None:
        thread = threading.Thread(target=self._work, name=f"fragility-worker-{number}",
                                  daemon=True)
        thread.retired = False
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        _lower_priority()
        if self._start_compute:
            try:
                compute.prepare(early=True)   # it takes seconds to start: not on the first Run
            except OSError:           # no processes here: attacks will run in this thread
                LOG.warning("a worker could not start its compute process", exc_info=True)
        me = threading.current_thread()
        while not me.retired:
            with self._lock:
                while not self._waiting:
                    self._lock.wait()
                job = self._waiting.popleft()
                self._renumber()
                gone = not _session_active(job.session_id)
                if not gone:
                    self._running.add(job)
                    job.worker = me
            if gone:          # its tab closed while it waited: do not start it
                job.request_stop("the browser tab was closed")
                job.finish_unstarted()
                continue
            try:
                job.execute()
            finally:
                with self._lock:
                    self._running.discard(job)

    # ------------------------------------------------------------ watchdog

    def _watch(self) -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            try:
                self._check_jobs()
            except Exception:  # the watchdog must outlive any one bad job
                LOG.exception("the job watchdog failed once; it keeps watching")

    def _check_jobs(self) -> None:
        with self._lock:
            jobs = list(self._waiting) + list(self._running)
        # a retired worker that has ended is let go, and its compute process with it
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        # a job alone on the server takes a fair share of the CPU; others yield to the pages
        compute.share_cpu(self._threads, fully=self.alone())
        now = time.monotonic()
        sessions = {job.session_id for job in jobs}
        for session_id in set(self._gone_since) - sessions:
            del self._gone_since[session_id]
        for job in jobs:
            if not self._session_alive(job.session_id, now):
                if job.request_stop("the browser tab was closed"):
                    LOG.info("job %d: its session ended; stopping it", job.number)
                self.cancel(job)
            elif job.over_budget(now):
                job.request_stop(f"it ran out of its time budget of {job.budget:g} s")
                self.cancel(job)
            if job.stuck(now, LOST_AFTER_SECONDS):
                self._give_up(job)

    def _session_alive(self, session_id: str | None, now: float) -> bool:
        if _session_active(session_id):
            self._gone_since.pop(session_id, None)
            return True
        since = self._gone_since.setdefault(session_id, now)
        return now - since < SESSION_GRACE_SECONDS

    def _give_up(self, job) -> None:
        """A job stopped long ago is still inside a model call: replace its worker."""
        with self._lock:
            if job not in self._running:
                return
            self._running.discard(job)
            job.worker.retired = True      # it leaves the pool if its call ever returns
        job.give_up(LOST_AFTER_SECONDS)
        LOG.warning("job %d: a model call has not returned %.0f s after the job was "
                    "stopped; giving up on it and starting a fresh worker",
                    job.number, LOST_AFTER_SECONDS)
        self._start_worker(int(time.monotonic()))


def _lower_priority() -> None:
    """Make this (worker) thread nicer than the threads that serve and draw pages."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                       min(19, os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICE))
    except (AttributeError, OSError):   # not Linux, or not allowed: equal priority
        pass


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


_POOL: Pool | None = None
_POOL_LOCK = threading.Lock()


def pool() -> Pool:
    """The server's one pool, started on first use."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = Pool(worker_count(), start_compute=True)
        return _POOL
