"""The paper-style curves and the summary table: numbers checked by hand on made-up rows."""

from __future__ import annotations

import math
import shutil

import pandas as pd
import pytest

import fragility as fg
from fragility.experiments import report


def made_up_rows() -> pd.DataFrame:
    """2 methods x (top-k, random sign) x eps 2 and 8, 3 images each, known values."""
    rows = []
    for method in ("gradient", "integrated-gradients"):
        for attack in ("top-k", "random-sign"):
            for eps in (2.0, 8.0):
                for image, value in enumerate((0.1, 0.2, 0.6)):
                    shift = 0.0 if attack == "top-k" else 0.3
                    rows.append({"image_id": f"i{image}", "model": "bundled", "method": method,
                                 "attack": attack, "criterion": "top-k", "defence": "none",
                                 "epsilon": eps / 255, "epsilon_255": eps, "seed": 0, "steps": 7,
                                 "top_k_intersection": value + shift, "spearman": value * eps / 8,
                                 "center_shift": eps + image, "found": image != 2, "label_kept": True})
    return pd.DataFrame(rows)


def test_the_band_is_the_mean_plus_minus_1_96_standard_errors():
    table = report.aggregate(made_up_rows(), "top_k_intersection")
    row = table[(table.method == "gradient") & (table.attack == "top-k") & (table.epsilon_255 == 2)].iloc[0]
    values = [0.1, 0.2, 0.6]
    mean = sum(values) / 3
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / 2)
    assert row["n"] == 3 and row["mean"] == pytest.approx(mean)
    assert row["low"] == pytest.approx(mean - 1.96 * std / math.sqrt(3))
    assert row["high"] == pytest.approx(mean + 1.96 * std / math.sqrt(3))


def test_each_method_panel_has_the_attack_and_its_dashed_baseline():
    rows = made_up_rows()
    figure = report.curves(rows, ["top_k_intersection"])
    lines = [trace for trace in figure.data if trace.mode == "lines+markers"]
    assert len(lines) == 4   # 2 methods x (attack, baseline)
    by_panel = {(trace.xaxis, trace.name): trace for trace in lines}
    attack, baseline = by_panel[("x", "top-k attack")], by_panel[("x", "random sign (top-k)")]
    assert list(attack.x) == [2.0, 8.0] and list(attack.y) == pytest.approx([0.3, 0.3])
    assert list(baseline.y) == pytest.approx([0.6, 0.6]) and baseline.line.dash == "dash"
    assert attack.line.color == baseline.line.color and attack.line.dash == "solid"
    assert [a.text for a in figure.layout.annotations] == ["Simple gradient", "Integrated gradients"]
    bands = [trace for trace in figure.data if trace.fill == "toself"]
    assert len(bands) == 4 and all(not trace.showlegend for trace in bands)
    # the legend names each line once
    assert sorted(trace.name for trace in lines if trace.showlegend) == ["random sign (top-k)", "top-k attack"]


def test_defences_get_their_own_rows_of_panels():
    rows = made_up_rows()
    defended = rows.assign(defence="beta-smoothing", top_k_intersection=rows.top_k_intersection + 0.1)
    figure = report.curves(pd.concat([rows, defended]), ["top_k_intersection"])
    titles = [figure.layout[axis].title.text for axis in ("yaxis", "yaxis3")]
    assert titles == ["Top-k<br>intersection<br>(none)", "Top-k<br>intersection<br>(beta-smoothing)"]
    defended_line = next(t for t in figure.data if t.yaxis == "y3" and t.name == "top-k attack")
    assert list(defended_line.y) == pytest.approx([0.4, 0.4])


def test_summary_counts_images_found_and_means():
    table = report.summary(made_up_rows())
    row = table[(table.method == "gradient") & (table.attack == "top-k") & (table.eps == 8)].iloc[0]
    assert row["images"] == 3 and row["found"] == pytest.approx(2 / 3)
    assert row["center_shift"] == pytest.approx(9.0) and row["spearman"] == pytest.approx(0.3)


def test_figures_are_written_as_html_and_png(tmp_path):
    if not shutil.which("chromium"):
        pytest.skip("PNG export needs Chromium (apt-get install chromium)")
    written = report.write_figures(made_up_rows(), tmp_path)
    assert {path.name for path in written} == {f"{name}.{kind}" for kind in ("html", "png")
                                               for name in ("curves", *report.METRICS)}
    assert (tmp_path / "plotly.min.js").is_file()   # once, beside the HTML files
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_a_browser_the_figures_are_html_and_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-browser"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.warns(UserWarning, match="HTML only"):
        written = report.write_figures(made_up_rows(), tmp_path / "figures")
    assert all(path.suffix == ".html" for path in written)


def test_report_of_an_empty_folder_says_what_to_do(tmp_path):
    with pytest.raises(fg.ConfigError, match="no rows yet"):
        report.report(tmp_path)
