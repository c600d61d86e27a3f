"""The dashboard as a person uses it: in Chromium, pressing its buttons."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

import fragility as fg

pytestmark = pytest.mark.browser

ATTACK_TIMEOUT = 300_000     # ms; a loaded 2-core machine is slow, a free one takes seconds
# Waits for page content; with three sessions attacking on 2 cores the final page can take
# longer than Playwright's default 5 s to draw after "Finished" appears.
expect.set_options(timeout=60_000)
CARDS = ["Spearman ρ", "Top-k intersection", "Center shift", "Label kept"]


def open_dashboard(page, url: str, path: str = "") -> None:
    page.goto(f"{url}/{path}")
    page.get_by_role("button", name=re.compile("Run ")).wait_for(timeout=120_000)


def set_steps(page, steps: int) -> None:
    field = page.get_by_test_id("stSidebar").get_by_role("spinbutton", name="Steps", exact=True)
    field.fill(str(steps))
    field.press("Enter")
    expect(page.get_by_text(f"{steps} steps", exact=False).first).to_be_visible()


def run_default_attack(page) -> None:
    page.get_by_role("button", name="Run attack").click()
    wait_for_end(page, re.compile(r"^Finished \d+ steps"))


def wait_for_end(page, text, timeout: float = ATTACK_TIMEOUT) -> None:
    """Wait for `text`, failing at once on an exception or error shown instead."""
    failure = page.get_by_test_id("stException").or_(page.get_by_test_id("stAlertContentError"))
    target = page.get_by_text(text) if isinstance(text, (str, re.Pattern)) else text
    target.or_(failure).first.wait_for(timeout=timeout)
    assert failure.count() == 0, failure.first.inner_text()


def check_result(page) -> None:
    """Metric cards with their random-sign references, charts, tiles and exports."""
    metrics = page.get_by_test_id("stMetric")
    for label in CARDS:
        expect(metrics.filter(has_text=label)).to_have_count(1)
        expect(metrics.filter(has_text=label)).to_contain_text("random sign: ")
    expect(page.locator(".js-plotly-plot")).to_have_count(4)
    tiles = page.get_by_test_id("stImage")
    for caption in ("Original", "Perturbed", "Perturbation", "Original map", "Perturbed map"):
        expect(tiles.filter(has_text=caption).first).to_be_visible()
    expect(page.get_by_test_id("stDownloadButton")).to_have_count(6)
    expect(page.get_by_test_id("stException")).to_have_count(0)


@pytest.mark.slow
def test_default_attack_in_the_browser(page, dashboard_url, screenshots):
    open_dashboard(page, dashboard_url)
    assert page.get_by_text("Device:").count() == 1
    page.screenshot(path=screenshots / "first-paint.png")
    run_default_attack(page)
    check_result(page)
    page.screenshot(path=screenshots / "attack.png", full_page=True)
    # the snippet is drawn (and highlighted) once its expander is opened, and stays drawn
    expect(page.get_by_test_id("stCode")).to_have_count(0)
    page.get_by_text("Reproduce this run in Python").click()
    expect(page.get_by_test_id("stCode")).to_contain_text("fg.attack(model, images,")
    page.get_by_text("Details: configuration and surrogate").click()
    expect(page.get_by_test_id("stJson")).to_contain_text("booleans")
    expect(page.get_by_test_id("stCode")).to_contain_text("fg.attack(model, images,")


def test_live_view_then_stop_keeps_the_best_so_far(page, dashboard_url, screenshots):
    open_dashboard(page, dashboard_url)
    set_steps(page, 1000)    # the default 100 steps can finish before Stop is pressed
    page.get_by_role("button", name="Run attack").click()
    page.get_by_role("button", name="Stop").wait_for(timeout=ATTACK_TIMEOUT)
    page.get_by_test_id("stProgress").wait_for()
    page.get_by_text(re.compile(r"attack: step [1-9]")).wait_for(timeout=ATTACK_TIMEOUT)
    page.locator(".js-plotly-plot").nth(2).wait_for()    # live charts while it runs (3 or more)
    page.screenshot(path=screenshots / "live.png", full_page=True)
    page.get_by_role("button", name="Stop").click()
    wait_for_end(page, re.compile(r"^Stopped after \d+ of 1000 steps"))
    check_result(page)


def test_three_sessions_at_once_all_finish(browser, dashboard_url, screenshots):
    contexts = [browser.new_context(viewport={"width": 1400, "height": 900}) for _ in range(3)]
    pages = [context.new_page() for context in contexts]
    try:
        for page in pages:
            open_dashboard(page, dashboard_url)
            set_steps(page, 20)
        for page in pages:      # all three running before any is awaited
            page.get_by_role("button", name="Run attack").click()
        for number, page in enumerate(pages):
            wait_for_end(page, re.compile(r"^Finished \d+ steps"), 3 * ATTACK_TIMEOUT)
            check_result(page)
            page.screenshot(path=screenshots / f"session-{number}.png")
        spearman = [page.get_by_test_id("stMetric").filter(has_text="Spearman").inner_text()
                    for page in pages]
        assert len(set(spearman)) == 1     # the same configuration gives the same result
    finally:
        for context in contexts:
            context.close()


def test_compare_page_ranks_every_method(page, dashboard_url, screenshots):
    open_dashboard(page, dashboard_url, "compare")
    steps = page.get_by_role("spinbutton", name="Steps per method")
    steps.fill("3")
    steps.press("Enter")
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Run every method").click()
    wait_for_end(page, re.compile("most fragile first"))
    assert page.get_by_text(re.compile(rf"^{len(fg.methods())}\. ")).count() == 1   # every method ranked
    expect(page.get_by_text(re.compile(r"\(random \d\.\d\d\)")).first).to_be_visible()
    page.screenshot(path=screenshots / "compare.png", full_page=True)


def test_offline_zoo_model_is_explained_in_place(page, dashboard_url):
    open_dashboard(page, dashboard_url)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Torchvision zoo", exact=True).click()
    alert = page.get_by_test_id("stAlert").filter(has_text="bundled")
    alert.first.wait_for(timeout=120_000)
    sidebar.get_by_text("Bundled (offline)", exact=True).click()
    page.get_by_role("button", name="Run attack").wait_for(timeout=120_000)
