"""A classroom on one machine: 8 sessions start an attack at once, then new visitors arrive.

Prints the first-paint time of new visitors while the attacks run and wait, each
attack's wait in the queue and its run time (read from the server's log), and when the
last one finished. Beside each first paint it prints that of the smallest Streamlit page
(benchmarks/minimal_page.py, served with the same settings by a process of its own and
loaded right after): the part of a first paint that is Streamlit's own, under the same load.
Each visitor comes twice: with the room's 8 browsers at normal priority, and with them
yielding the CPU to everything else (their Linux autogroup at nice 19), as if they ran on
the students' own machines, where a classroom has them.
The dashboard runs at most one attack per worker (one per two cores, or FRAGILITY_WORKERS);
the rest wait in line with their place shown on their page.

    .venv/bin/python benchmarks/bench_classroom.py [--sessions 8] [--steps 100]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard import server, settings  # noqa: E402
from dashboard.components.workers import worker_count  # noqa: E402

TIMEOUT = 600_000   # ms
MINIMAL_PAGE = Path(__file__).resolve().parent / "minimal_page.py"
STARTED = re.compile(r"job (\d+) started after ([\d.]+) s in the queue")
ENDED = re.compile(r"job (\d+) (finished|stopped) after ([\d.]+) s")
# A switch Chromium ignores, to find the room's browser among the processes. Playwright
# starts each browser in a session of its own, so it is one Linux autogroup: the scheduler
# shares the CPU between autogroups first, and a process's own nice only counts inside its
# autogroup, so the room is made to yield by its autogroup's nice.
ROOM_MARK = "--fragility-classroom-room"


def first_paint(browser, url: str) -> float:
    """Seconds from opening the page to the drawn map and the Run button."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    page.get_by_role("button", name="Run attack").wait_for(timeout=TIMEOUT)
    page.get_by_test_id("stImage").filter(has_text=" map").first.wait_for(timeout=TIMEOUT)
    seconds = time.perf_counter() - start
    context.close()
    return seconds


def room_nice(nice: int) -> bool:
    """Set the nice of the room's browser autogroup; False where Linux does not allow it."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and ROOM_MARK.encode() in (entry / "cmdline").read_bytes():
                (entry / "autogroup").write_text(str(nice))
                return True
        except OSError:
            continue
    return False


def set_steps(page, steps: int) -> None:
    field = page.get_by_test_id("stSidebar").get_by_role("spinbutton", name="Steps", exact=True)
    field.fill(str(steps))
    field.press("Enter")
    page.get_by_text(f"{steps} steps", exact=False).first.wait_for(timeout=TIMEOUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--visitors", type=int, default=4, help="new visitors while they run")
    args = parser.parse_args()
    process, url = server.start()
    minimal, minimal_url = server.start(launcher=[sys.executable, "-m", "streamlit", "run",
                                                  str(MINIMAL_PAGE), *settings.flags([])])
    try:
        with sync_playwright() as playwright:
            # The visitor has a browser of their own, as on another machine; the 8 sessions
            # share one (all of them on the server's cores, as in the browser test).
            browser, room = (playwright.chromium.launch(executable_path=server.CHROMIUM,
                                                        args=[*server.CHROMIUM_ARGS, *mark])
                             for mark in ([], [ROOM_MARK]))
            first_paint(browser, url), first_paint(browser, minimal_url)   # model cached
            idle = [(first_paint(browser, url), first_paint(browser, minimal_url))
                    for _ in range(3)]
            contexts = [room.new_context(viewport={"width": 1400, "height": 900})
                        for _ in range(args.sessions)]
            pages = [context.new_page() for context in contexts]
            for page in pages:
                page.goto(url)
                page.get_by_role("button", name="Run attack").wait_for(timeout=TIMEOUT)
                if args.steps != 100:
                    set_steps(page, args.steps)
            start = time.perf_counter()
            for page in pages:
                page.get_by_role("button", name="Run attack").click()
            busy_paints, yielding = [], []
            for _ in range(args.visitors):
                at = time.perf_counter() - start
                busy_paints.append((at, first_paint(browser, url), first_paint(browser, minimal_url)))
                if room_nice(19):
                    yielding.append((first_paint(browser, url), first_paint(browser, minimal_url)))
                    if not room_nice(0):
                        raise RuntimeError("the room's browsers could not be given back their "
                                           "priority, so later figures would not compare")
            for page in pages:
                page.get_by_text(re.compile(r"^Finished \d+ steps")).wait_for(timeout=TIMEOUT)
            all_done = time.perf_counter() - start
            browser.close()
            room.close()
    finally:
        log = Path(process.log_path).read_text()   # stop() removes the log file
        server.stop(process)
        server.stop(minimal)
    waits = sorted(float(seconds) for _, seconds in STARTED.findall(log))
    runs = [float(seconds) for _, _, seconds in ENDED.findall(log)]
    cores = len(os.sched_getaffinity(0))
    print(f"{args.sessions} sessions press Run attack at once ({args.steps} steps, bundled "
          f"model), {worker_count()} workers on {cores} CPU cores")
    print("first paint (s):                       dashboard   minimal Streamlit page")
    print(f"  nothing running (median of 3):            {statistics.median(d for d, _ in idle):.2f}"
          f"        {statistics.median(m for _, m in idle):.2f}")
    for number, (at, seconds, floor) in enumerate(busy_paints):
        print(f"  a new visitor at +{at:4.1f} s:                {seconds:.2f}        {floor:.2f}")
        if number < len(yielding):
            print(f"    the room's browsers yielding:          {yielding[number][0]:.2f}"
                  f"        {yielding[number][1]:.2f}")
    if not yielding:
        print("  (the room's browsers could not be set to yield: not Linux, or not allowed)")
    print(f"queue waits (s):  {', '.join(f'{w:.1f}' for w in waits)}")
    print(f"                  median {statistics.median(waits):.1f}, longest {max(waits):.1f}")
    print(f"run time per job (s, baseline + attack): median {statistics.median(runs):.1f}, "
          f"longest {max(runs):.1f}")
    print(f"all {args.sessions} finished after {all_done:.1f} s")


if __name__ == "__main__":
    main()
