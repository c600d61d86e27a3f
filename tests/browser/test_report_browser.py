"""A written fg.report page opened from a file in Chromium with the network blocked: every
image loads and no request leaves the page."""

from __future__ import annotations

import pytest
import torch

import fragility as fg
from nets import make_cnn

pytestmark = pytest.mark.browser


def test_report_opens_offline_from_a_file(page, tmp_path, screenshots):
    torch.manual_seed(0)
    result = fg.attack(make_cnn(), torch.rand(1, 3, 16, 16, dtype=torch.float64), "gradient", "top-k",
                       epsilon=8 / 255, steps=4, k=20, seed=0, step_size=2 / 255, baseline=True)
    path = tmp_path / "report.html"
    fg.report(result, path)
    outside = []

    def block(route):
        if not route.request.url.startswith(("file://", "data:")):
            outside.append(route.request.url)
        return route.abort() if route.request.url.startswith(("http", "ws")) else route.continue_()

    page.route("**/*", block)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    widths = page.eval_on_selector_all(
        "img", "images => images.map(image => image.complete ? image.naturalWidth : 0)")
    assert len(widths) >= 6 and all(width > 0 for width in widths), widths   # five tiles and the chart
    assert page.get_by_text("random sign").count() >= 1
    assert outside == []
    page.screenshot(path=screenshots / "report.png", full_page=True)
