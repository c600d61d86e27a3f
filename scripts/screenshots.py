"""Screenshots of the real dashboard for the README: docs/screenshots/*.png.

Starts the dashboard, drives Debian's Chromium with Playwright in the light and the dark
theme (Streamlit follows the browser's colour scheme), runs the default attack, the
compare view, the sanity check (model and data randomisation), the influence page and the
manipulated model, and saves what a person would see.

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard import server  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1600, "height": 1000}
TIMEOUT = 600_000   # ms


def attack(page, url: str, name: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Run attack").wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="Run attack").click()
    page.get_by_text(re.compile(r"attack: step [3-9]\d")).wait_for(timeout=TIMEOUT)
    page.wait_for_timeout(800)
    page.screenshot(path=OUT / f"{name}-live.png")
    page.get_by_text(re.compile(r"^Finished \d+ steps")).wait_for(timeout=TIMEOUT)
    page.wait_for_timeout(1500)        # let the charts finish drawing
    page.screenshot(path=OUT / f"{name}.png")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 2300})   # the whole page
    page.get_by_test_id("stMetric").first.wait_for()
    page.wait_for_timeout(4000)
    page.screenshot(path=OUT / f"{name}-full.png")
    page.set_viewport_size(VIEWPORT)


def compare(page, url: str, name: str, steps: int) -> None:
    page.goto(f"{url}/compare")
    field = page.get_by_role("spinbutton", name="Steps per method")
    field.wait_for(timeout=TIMEOUT)
    field.fill(str(steps))
    field.press("Enter")
    page.wait_for_timeout(800)
    page.get_by_role("button", name="Run every method").click()
    page.get_by_text("lower = more fragile").wait_for(timeout=TIMEOUT)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 1500})
    page.wait_for_timeout(1500)
    page.screenshot(path=OUT / f"{name}.png")


def sanity(page, url: str, name: str) -> None:
    page.goto(f"{url}/sanity")
    page.get_by_role("button", name="Run", exact=True).wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text(re.compile(r"^Randomised \d+ layers")).wait_for(timeout=TIMEOUT)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 1350})
    page.wait_for_timeout(2500)        # let the chart finish drawing
    page.screenshot(path=OUT / f"{name}.png")
    page.set_viewport_size(VIEWPORT)


def data_randomization(page, url: str, name: str) -> None:
    page.goto(f"{url}/sanity")
    page.get_by_role("button", name="Compare every method").wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="Compare every method").click()
    page.get_by_text(re.compile(r"^Compared \d+ methods")).wait_for(timeout=TIMEOUT)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 1900})   # down to the chart
    page.wait_for_timeout(2500)        # let the chart finish drawing
    page.screenshot(path=OUT / f"{name}.png", clip={"x": 0, "y": 620, "width": VIEWPORT["width"],
                                                    "height": 1280})
    page.set_viewport_size(VIEWPORT)


def manipulated(page, url: str, name: str) -> None:
    page.goto(f"{url}/manipulated")
    page.get_by_text("manipulated: ").first.wait_for(timeout=TIMEOUT)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 1150})
    page.wait_for_timeout(2000)
    page.screenshot(path=OUT / f"{name}.png")
    page.set_viewport_size(VIEWPORT)


def influence(page, url: str, name: str) -> None:
    page.goto(f"{url}/influence")
    page.get_by_role("button", name="Run", exact=True).wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text(re.compile(r"^Finished \d+ steps")).wait_for(timeout=TIMEOUT)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 1930})   # down to the strips
    page.wait_for_timeout(2500)        # let the charts finish drawing
    page.screenshot(path=OUT / f"{name}.png")
    page.set_viewport_size(VIEWPORT)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    process, url = server.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=server.CHROMIUM,
                                                 args=server.CHROMIUM_ARGS)
            for scheme in ("light", "dark"):
                context = browser.new_context(viewport=VIEWPORT, color_scheme=scheme)
                page = context.new_page()
                attack(page, url, f"attack-{scheme}")
                if scheme == "light":
                    compare(page, url, "compare-light", steps=5)
                    sanity(page, url, "sanity-light")
                    influence(page, url, "influence-light")
                    data_randomization(page, url, "data-randomization-light")
                    manipulated(page, url, "manipulated-light")
                context.close()
            browser.close()
    finally:
        server.stop(process)
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
