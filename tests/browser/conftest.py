"""A real dashboard server and Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashboard import server

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "out" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", server.CHROMIUM)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not Path(CHROMIUM).is_file():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def dashboard_url(tmp_path_factory):
    # sweeps started from the page write their results here, not into the home folder
    os.environ["FRAGILITY_RESULTS"] = str(tmp_path_factory.mktemp("results"))
    process, url = server.start()
    yield url
    server.stop(process)


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path,
                                              args=server.CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
