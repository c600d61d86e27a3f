"""The Influence page in Chromium: run, watch it live, see the strips and the baseline."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

RUN_TIMEOUT = 300_000     # ms; a loaded 2-core machine is slow, a free one takes seconds
expect.set_options(timeout=60_000)


def test_influence_run_shows_strips_and_metrics_beside_random_sign(page, dashboard_url, screenshots):
    page.goto(f"{dashboard_url}/influence")
    run = page.get_by_role("button", name="Run")
    run.wait_for(timeout=120_000)
    expect(page.get_by_text("Which training images explain this prediction?")).to_be_visible()
    expect(page.get_by_role("spinbutton", name="Training images scored")).to_have_value("200")
    page.screenshot(path=screenshots / "influence-before.png", full_page=True)
    run.click()
    failure = page.get_by_test_id("stException").or_(page.get_by_test_id("stAlertContentError"))
    done = page.get_by_text(re.compile(r"^Finished \d+ steps and \d+ random-sign draws"))
    done.or_(failure).first.wait_for(timeout=RUN_TIMEOUT)
    assert failure.count() == 0, failure.first.inner_text()

    metrics = page.get_by_test_id("stMetric")
    for label in ("Top-5 intersection", "Spearman ρ", "Top-5 influence", "Label kept"):
        expect(metrics.filter(has_text=label)).to_have_count(1)
        expect(metrics.filter(has_text=label)).to_contain_text("random sign: ")
    for heading in ("Most helpful", "Most harmful"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    tiles = page.get_by_test_id("stImage")
    expect(tiles.filter(has_text=re.compile(r"^#\d+ \w+ · [+-]"))).to_have_count(20)   # 4 strips of 5
    expect(tiles.filter(has_text=re.compile(r"· (was #\d|new)"))).to_have_count(10)
    expect(page.locator(".js-plotly-plot")).to_have_count(2)
    page.screenshot(path=screenshots / "influence.png", full_page=True)
