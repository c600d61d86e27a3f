"""A classroom: 8 sessions attack at once on a machine with a few cores.

At most one attack per worker runs; the others wait with their place in line on their
page; a new visitor's page still appears; closing the tabs stops every attack and the
server goes quiet. (How fast is measured by benchmarks/bench_classroom.py.)
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dashboard import server
from dashboard.components import live
from dashboard.components.workers import worker_count

pytestmark = pytest.mark.browser
expect.set_options(timeout=120_000)
SESSIONS = 8
RUNNING = re.compile(r"(random-sign baseline|attack): step \d+ of 1000")
WAITING = re.compile(r"waiting for a free worker \((\d+)(st|nd|rd|th) in line")


@pytest.fixture(scope="module")
def classroom_server():
    process, url = server.start()
    yield process, url
    server.stop(process)


def cpu_seconds(pid: int) -> float:
    """CPU time of the server and its child processes (the workers' compute processes)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:       # the process ended meanwhile
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):   # fields[1]: parent pid
            total += (int(fields[11]) + int(fields[12])) / 100      # utime + stime, in ticks
    return total


def open_with_steps(browser, url: str, steps: int):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.goto(url)
    page.get_by_role("button", name="Run attack").wait_for(timeout=180_000)
    field = page.get_by_test_id("stSidebar").get_by_role("spinbutton", name="Steps", exact=True)
    field.fill(str(steps))
    field.press("Enter")
    expect(page.get_by_text(f"{steps} steps", exact=False).first).to_be_visible()
    return page


def progress(page) -> str:
    bar = page.get_by_test_id("stProgress")
    bar.wait_for(timeout=180_000)
    return bar.inner_text()


def line_up(texts: list[str]) -> tuple[list[str], list[int]]:
    """The pages that say they run, and the places in line the others give."""
    running = [text for text in texts if RUNNING.search(text)]
    places = sorted(int(WAITING.search(text).group(1)) for text in texts if WAITING.search(text))
    return running, places


def test_eight_sessions_share_the_workers_and_stop_when_closed(browser, classroom_server):
    process, url = classroom_server
    workers = worker_count()
    pages = [open_with_steps(browser, url, 1000) for _ in range(SESSIONS)]
    try:
        for page in pages:
            page.get_by_role("button", name="Run attack").click()
        for page in pages:         # every page says it runs or where it waits
            expect(page.get_by_test_id("stProgress")).to_contain_text(
                re.compile(f"{RUNNING.pattern}|{WAITING.pattern}"))
        # a page learns that its job left the queue at its next queued redraw
        deadline = time.monotonic() + 3 * live.QUEUED_SECONDS
        while True:
            texts = [progress(page) for page in pages]
            running, places = line_up(texts)
            if (len(running), places) == (workers, list(range(1, SESSIONS - workers + 1))) \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(running) == workers, texts
        assert places == list(range(1, SESSIONS - workers + 1)), texts

        # the visitor has a browser of their own, as on another machine
        own_browser = browser.browser_type.launch(executable_path=server.CHROMIUM,
                                                  args=server.CHROMIUM_ARGS)
        visitor = own_browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
        start = time.monotonic()
        visitor.goto(url)
        visitor.get_by_role("button", name="Run attack").wait_for(timeout=180_000)
        visitor.get_by_test_id("stImage").filter(has_text=" map").first.wait_for(timeout=180_000)
        print(f"\nnew visitor's first paint beside {SESSIONS} attacks: "
              f"{time.monotonic() - start:.1f} s")
        own_browser.close()
    finally:
        for page in pages:
            page.context.close()
    log = Path(process.log_path)
    deadline = time.monotonic() + 120
    while len(re.findall(r"job \d+ stopped after", log.read_text())) < SESSIONS:
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    # the running jobs are stopped by the watchdog; a waiting one by it or, first, by the
    # worker that would have started it
    assert workers <= log.read_text().count("its session ended; stopping it") <= SESSIONS
    assert log.read_text().count("started after") == workers   # no waiting job started
    before = cpu_seconds(process.pid)
    time.sleep(3)
    assert cpu_seconds(process.pid) - before < 0.5 * 3   # the server and its children are quiet
