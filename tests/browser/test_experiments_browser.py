"""The experiments page in Chromium: a sweep whose curves fill in, then its table and downloads."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from test_dashboard_browser import ATTACK_TIMEOUT, open_dashboard, wait_for_end

pytestmark = pytest.mark.browser


def test_a_sweep_in_the_browser(page, dashboard_url, screenshots):
    open_dashboard(page, dashboard_url, "experiments")
    steps = page.get_by_test_id("stMain").get_by_role("spinbutton", name="Steps", exact=True)
    steps.fill("4")
    steps.press("Enter")
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Run sweep").click()
    wait_for_end(page, re.compile(r"^Finished \d+ rows"), ATTACK_TIMEOUT)
    # 8 images x 4 eps x (top-k, mass-center and a random-sign baseline for each)
    expect(page.get_by_text(re.compile(r"^Finished 128 rows"))).to_be_visible()
    chart = page.locator(".js-plotly-plot").first
    expect(chart).to_contain_text("top-k attack")
    expect(chart).to_contain_text("random sign")
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    parquet = page.get_by_test_id("stDownloadButton").filter(has_text="Rows (Parquet)").first
    expect(parquet).to_be_visible()
    with page.expect_download() as download:
        parquet.click()
    assert download.value.suggested_filename == "results.parquet"
    page.screenshot(path=screenshots / "experiments.png", full_page=True)
