"""What one live redraw of the center-of-mass chart costs the viewer's browser.

Serves benchmarks/chart_redraw_page.py (the chart redrawn twice a second with a growing
path) and reads, through the Chrome DevTools Protocol, the page's main-thread time over
`--seconds`, for the map drawn as a picture (the dashboard's form) and as `z` values (its
earlier form), alternating the two `--rounds` times. Prints seconds per redraw and the ratio.

    .venv/bin/python benchmarks/bench_chart_redraw.py [--seconds 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard import server, settings  # noqa: E402

PAGE = Path(__file__).resolve().parent / "chart_redraw_page.py"
REDRAWS_PER_SECOND = 2


def main_thread_seconds(session) -> float:
    metrics = session.send("Performance.getMetrics")["metrics"]
    return next(metric["value"] for metric in metrics if metric["name"] == "TaskDuration")


def per_redraw(browser, url: str, form: str, seconds: float) -> float:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    session = context.new_cdp_session(page)
    session.send("Performance.enable")
    page.goto(f"{url}/?form={form}")
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    time.sleep(3)                                   # past the first draw and Plotly's load
    before = main_thread_seconds(session)
    time.sleep(seconds)
    spent = main_thread_seconds(session) - before
    context.close()
    return spent / (seconds * REDRAWS_PER_SECOND)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    process, url = server.start(launcher=[sys.executable, "-m", "streamlit", "run", str(PAGE),
                                          *settings.flags([])])
    costs: dict[str, list[float]] = {"picture": [], "values": []}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=server.CHROMIUM,
                                                 args=server.CHROMIUM_ARGS)
            for _ in range(args.rounds):
                for form in costs:
                    costs[form].append(per_redraw(browser, url, form, args.seconds))
            browser.close()
    finally:
        server.stop(process)
    print("browser main-thread seconds per redraw of the center-of-mass chart")
    for form, values in costs.items():
        print(f"  map as {form:8s} {statistics.median(values):.3f}   "
              f"(rounds: {', '.join(f'{value:.3f}' for value in values)})")
    ratio = statistics.median(costs["values"]) / statistics.median(costs["picture"])
    print(f"  values / picture: {ratio:.2f}")


if __name__ == "__main__":
    main()
