"""CPU priority of the compute processes: yield to every other program, or take a fair share.

Linux with autogroups (`/proc/sys/kernel/sched_autogroup_enabled`) shares the CPU between
sessions first, and a process's own nice only orders it inside its session. So a compute
process makes a session of its own and sets that session's autogroup nice. An unprivileged
process may set an autogroup's nice back to 0, though not its own nice, so the pool can let
a job that is alone on the server take a fair share again. Elsewhere the process takes nice
19, for good.

A compute process makes its session before it imports torch (`own_session`), so that its
start takes a fair share of the CPU, neither starved by the pages being drawn nor taking
the share of the server it came from, and yields (`lowest`) once it is ready for jobs.
"""

from __future__ import annotations

import os

YIELDING_NICE = 19


def own_session() -> None:
    """Put this process in a session (and so an autogroup) of its own."""
    try:
        os.setsid()
    except (AttributeError, OSError):    # not Unix, or already a session's leader
        pass


def lowest() -> None:
    """Put this process in a session of its own at autogroup nice 19 (else nice 19)."""
    own_session()
    if autogroups():
        try:
            with open("/proc/self/autogroup", "w") as autogroup:
                autogroup.write(str(YIELDING_NICE))
            return
        except OSError:
            pass
    try:
        os.nice(YIELDING_NICE)
    except (AttributeError, OSError):
        pass


def autogroups() -> bool:
    """Whether Linux shares the CPU between sessions (autogroups) first."""
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as enabled:
            return enabled.read().strip() == "1"
    except OSError:
        return False


def autogroup(pid) -> tuple[str, int]:
    """(name, nice) of a process's autogroup, read from '/autogroup-42 nice 19'."""
    with open(f"/proc/{pid}/autogroup") as group:
        words = group.read().split()
    return words[0], int(words[-1])


def set_autogroup_nice(pid: int, nice: int) -> None:
    """Set the autogroup nice of process `pid` once it has a session of its own (never the
    caller's own group); a failure (not Linux, not allowed, rate-limited) leaves it as is."""
    try:
        theirs = autogroup(pid)
        if theirs[0] != autogroup("self")[0] and theirs[1] != nice:
            with open(f"/proc/{pid}/autogroup", "w") as group:
                group.write(str(nice))
    except (OSError, ValueError, IndexError):
        pass
