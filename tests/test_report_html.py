"""fg.report: one self-contained HTML page of a result (offline: inline PNGs, no scripts, no
URLs); fg.picture: slide-ready pictures at a chosen width."""

from __future__ import annotations

import base64
import io
import re

import pytest
import torch
from PIL import Image

import fragility as fg
from fragility import display, report_html
from nets import make_cnn

IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def attacked():
    torch.manual_seed(0)
    model, images = make_cnn(), torch.rand(1, 3, 16, 16, dtype=torch.float64)
    return fg.attack(model, images, "gradient", "top-k", epsilon=8 / 255, steps=4, k=20, seed=0,
                     step_size=2 / 255, baseline=True)


def assert_offline(page: str) -> None:
    assert "<script" not in page.lower()
    assert re.search(r"https?://", page) is None
    assert re.search(r"""(src|href)\s*=\s*["'](?!data:)""", page) is None   # only inline data


def test_report_holds_tiles_metrics_verdict_config_and_snippet(attacked, tmp_path):
    path = tmp_path / "run.html"
    page = fg.report(attacked, path)
    assert path.read_text(encoding="utf-8") == page
    assert page.startswith("<!DOCTYPE html>")
    pictures = [Image.open(io.BytesIO(base64.b64decode(data))) for data in IMG.findall(page)]
    assert len(pictures) >= 5 and all(picture.width > 0 for picture in pictures)   # tiles and the chart
    found = attacked.found.bool()
    for metrics in (attacked.metrics, attacked.baseline.metrics):   # the attack and its baseline
        assert f"{float(metrics['spearman'][found].mean()):.3f}" in page
    assert "random sign" in page
    assert display._e(display._view(attacked, with_tiles=False).verdict) in page
    assert '"epsilon": 0.0313' in page and '"steps": 4' in page       # the configuration as JSON
    assert "fg.attack(model, images, method='gradient', attack='top-k'," in page
    assert_offline(page)


def test_report_snippet_is_valid_python_with_the_runs_settings(attacked):
    code = report_html.reproducing_snippet(attacked)
    compile(code, "snippet", "exec")
    assert "epsilon=0.03137" in code and "k=20" in code and "seed=0" in code and "baseline=True" in code
    assert "device=" not in code and "image_size=" not in code      # records, not arguments


def test_report_snippet_runs_and_reproduces_the_metrics(attacked):
    torch.manual_seed(0)
    model, images = make_cnn(), torch.rand(1, 3, 16, 16, dtype=torch.float64)
    code = report_html.reproducing_snippet(attacked).replace("fg.load_model(...)", "model")
    scope = {"model": model, "images": images, "Ellipsis": ...}
    exec(code.replace("images = ...", "images = images"), scope)
    assert torch.equal(scope["result"].metrics["spearman"], attacked.metrics["spearman"])


def test_report_takes_the_callers_snippet(attacked):
    page = fg.report(attacked, snippet="print('from the dashboard')")
    assert "print('from the dashboard')" in page and "fg.load_model(...)" not in page


def test_large_tensors_in_the_config_are_summarised():
    value = report_html.summarised({"mask": torch.zeros(4, 4), "weights": torch.tensor([1.0, 2.0])})
    assert value == {"mask": "tensor of shape [4, 4], min 0, max 0", "weights": [1.0, 2.0]}


def test_panel_picture_is_the_chosen_width_with_projector_text(attacked):
    picture = Image.open(io.BytesIO(fg.picture(attacked, "panel", width=1600)))
    assert picture.width == 1600 and picture.height > 1600 // 5
    small = Image.open(io.BytesIO(fg.picture(attacked, "panel", width=800)))
    assert small.width == 800
    assert report_html.PROJECTOR_FONT >= 18


def test_history_picture_png_and_svg(attacked):
    png = Image.open(io.BytesIO(fg.picture(attacked, "history", width=1200)))
    assert png.size == (1200, 540)
    svg = fg.picture(attacked, "history", width=1600, format="svg").decode()
    assert svg.startswith("<svg") and 'width="1600"' in svg
    sizes = [float(size) for size in re.findall(r"font-size: ?([0-9.]+)px", svg)]
    assert sizes and min(sizes) >= 18


@pytest.mark.parametrize("arguments, message", [
    (dict(kind="table"), "'table' is not one of panel, history"),
    (dict(format="jpg"), "'jpg' is not one of png, svg"),
    (dict(width=100), "at least 320 pixels, got 100"),
    (dict(kind="panel", format="svg"), "format 'png'"),
])
def test_bad_picture_arguments_are_named(attacked, arguments, message):
    with pytest.raises(fg.ConfigError, match=re.escape(message)):
        fg.picture(attacked, **arguments)
