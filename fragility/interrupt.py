"""Stopping a computation from outside its thread, at the next call of the model.

An attack's callback can stop it between two steps, but one step of a large model (or
of integrated gradients with many points) can take many seconds. Inside
`interruptible(reason)`, every call of a fragility `Model` in this thread first asks
`reason()` and raises `Interrupted` with its answer when there is one; so a running
computation ends within one forward pass of the model, whatever the step costs.
Nothing is checked outside such a block.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from .errors import FragilityError

_local = threading.local()


class Interrupted(FragilityError):
    """The computation was stopped from outside (the message says why)."""


@contextlib.contextmanager
def interruptible(reason: Callable[[], str | None]) -> Iterator[None]:
    """Let `reason()` stop model calls in this thread: a message ends the computation."""
    previous = getattr(_local, "reason", None)
    _local.reason = reason
    try:
        yield
    finally:
        _local.reason = previous


def check() -> None:
    """Raise Interrupted if this thread's computation has been asked to stop."""
    reason = getattr(_local, "reason", None)
    if reason is not None:
        message = reason()
        if message:
            raise Interrupted(message)
