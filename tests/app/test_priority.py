"""Reading the scheduler's files: autogroups and the cgroup the CPU controller applies to."""

import pytest

from dashboard.components import priority


@pytest.mark.parametrize("text, expected", [
    ("/autogroup-3031 nice 0\n", ("/autogroup-3031", 0)),
    ("/autogroup-7 nice 19\n", ("/autogroup-7", 19)),
    ("", ("", 0)),                      # the system's first session: the default group
])
def test_an_autogroup_is_read_and_the_default_group_has_no_name(text, expected):
    assert priority.parse_autogroup(text) == expected


V1 = """12:pids:/
4:memory:/process_api/db3f4c
1:cpu,cpuacct:/
0::/
"""


@pytest.mark.parametrize("text, expected", [
    (V1, "/"),
    (V1.replace("cpu,cpuacct:/", "cpu,cpuacct:/docker/abc"), "/docker/abc"),
    ("0::/user.slice/user-1000.slice/session-2.scope\n",
     "/user.slice/user-1000.slice/session-2.scope"),
    ("5:memory:/x\n", None),             # no CPU controller mounted
])
def test_the_cpu_cgroup_is_v1s_cpu_line_else_v2s_unified_line(text, expected):
    assert priority.cpu_cgroup(text) == expected


def test_a_server_in_the_default_group_still_has_autogroups_and_its_children_theirs(
        monkeypatch):
    """A server started from the system's first session (an empty autogroup file, as under
    some CI runners) compares as the default group, which no child shares once it has made
    its own session, so the pool still sets the child's nice."""
    files = {"/proc/self/autogroup": "", "/proc/42/autogroup": "/autogroup-9 nice 19\n"}
    written = {}

    class File:
        def __init__(self, path, mode="r"):
            self.path, self.mode = path, mode

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return files[self.path]

        def write(self, text):
            written[self.path] = text

    monkeypatch.setattr("builtins.open", File)
    priority.set_autogroup_nice(42, 0)
    assert written == {"/proc/42/autogroup": "0"}
    files["/proc/42/autogroup"] = "/autogroup-9 nice 0\n"
    written.clear()
    priority.set_autogroup_nice(42, 0)                  # already at 0: nothing written
    assert written == {}
