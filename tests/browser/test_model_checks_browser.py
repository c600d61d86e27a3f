"""The data randomisation section and the manipulated-model page, in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

import fragility as fg

from test_dashboard_browser import ATTACK_TIMEOUT, wait_for_end

pytestmark = pytest.mark.browser


def test_shuffled_twin_and_manipulated_model_in_the_browser(page, dashboard_url, screenshots):
    page.goto(f"{dashboard_url}/sanity")
    page.get_by_role("button", name="Compare every method").wait_for(timeout=120_000)
    page.get_by_role("combobox", name="Class to explain").click()
    page.keyboard.type("4: star")
    page.get_by_role("option", name="4: star").wait_for()
    page.keyboard.press("Enter")
    expect(page.get_by_text(re.compile(r"explains class 4: star"))).to_be_visible()
    page.get_by_role("button", name="Compare every method").click()
    count = len(fg.methods())
    wait_for_end(page, re.compile(rf"^Compared {count} methods"), timeout=ATTACK_TIMEOUT)
    tiles = page.get_by_test_id("stImage")
    expect(tiles.filter(has_text="· shuffled labels")).to_have_count(count)
    expect(tiles.filter(has_text="· trained")).to_have_count(count)
    expect(page.locator(".js-plotly-plot").filter(has_text="shuffled-label model")).to_have_count(1)
    page.screenshot(path=screenshots / "sanity-data-randomization.png", full_page=True)

    page.goto(f"{dashboard_url}/manipulated")
    expect(page.get_by_text("A model can pass inspection and still lie in its maps")).to_be_visible(
        timeout=120_000)
    metrics = page.get_by_test_id("stMetric")
    expect(metrics.filter(has_text="Accuracy, manipulated model")).to_contain_text("%")
    expect(page.get_by_test_id("stImage").filter(has_text="manipulated: ")).to_have_count(8)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=screenshots / "manipulated.png", full_page=True)
