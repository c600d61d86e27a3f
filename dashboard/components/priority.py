"""CPU priority of the compute processes: yield to every other program, or take a fair share.

Linux with autogroups (`/proc/sys/kernel/sched_autogroup_enabled`) shares the CPU between
sessions first, and a process's own nice only orders it inside its session. So a compute
process makes a session of its own and sets that session's autogroup nice. An unprivileged
process may set an autogroup's nice back to 0, though not its own nice, so the pool can let
a job that is alone on the server take a fair share again. Elsewhere the process takes nice
19, for good: where Linux has no autogroups, and where the server runs in a CPU cgroup of
its own (a container with a CPU limit, a systemd unit with a CPU weight), since the kernel
then shares the CPU by cgroup and leaves autogroups out. A container that hides its cgroup
behind a namespace cannot be told apart from the host; there the compute processes yield by
autogroup only, so no less than the server's other programs.

A compute process makes its session before it imports torch (`own_session`), so that its
start takes a fair share of the CPU, neither starved by the pages being drawn nor taking
the share of the server it came from, and yields (`lowest`) once it is ready for jobs.
"""

from __future__ import annotations

import functools
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


@functools.cache
def autogroups() -> bool:
    """Whether Linux shares the CPU between sessions (autogroups) first, for this process."""
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as enabled:
            if enabled.read().strip() != "1":
                return False
        with open("/proc/self/cgroup") as cgroups:
            path = cpu_cgroup(cgroups.read())
    except OSError:
        return False
    return path is None or path == "/" or not _governs_cpu(path)


def cpu_cgroup(proc_cgroup: str) -> str | None:
    """The cgroup path that the CPU controller applies to, from `/proc/<pid>/cgroup`:
    cgroup v1's `cpu` line, else v2's `0::` line, else None."""
    unified = None
    for line in proc_cgroup.splitlines():
        number, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            return path
        if number == "0" and controllers == "":
            unified = path
    return unified


def _governs_cpu(path: str) -> bool:
    """Whether cgroup v2's CPU controller is on for `path` (for v1, its line says so)."""
    try:
        with open(f"/sys/fs/cgroup{path}/cgroup.controllers") as controllers:
            return "cpu" in controllers.read().split()
    except OSError:
        return True


def autogroup(pid) -> tuple[str, int]:
    """(name, nice) of a process's autogroup, from '/autogroup-42 nice 19'. A process whose
    session was never given one (the system's first session) reads an empty file: it is in
    the default group, ("", 0), whose nice cannot be set."""
    with open(f"/proc/{pid}/autogroup") as group:
        return parse_autogroup(group.read())


def parse_autogroup(text: str) -> tuple[str, int]:
    words = text.split()
    return (words[0], int(words[-1])) if words else ("", 0)


def set_autogroup_nice(pid: int, nice: int) -> None:
    """Set the autogroup nice of process `pid` once it has a session of its own (never the
    caller's own group); a failure (not Linux, not allowed, rate-limited) leaves it as is."""
    try:
        theirs = autogroup(pid)
        if theirs[0] != autogroup("self")[0] and theirs[1] != nice:
            with open(f"/proc/{pid}/autogroup", "w") as group:
                group.write(str(nice))
    except (OSError, ValueError):
        pass
