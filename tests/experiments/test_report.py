"""The paper-style curves and the summary table: numbers checked by hand on made-up rows."""

from __future__ import annotations

import math
import shutil

import pandas as pd
import pytest
from PIL import Image
from scipy import stats

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


def row(image, attack="top-k", eps=2.0, seed=0, found=True, **metrics) -> dict:
    values = {"top_k_intersection": 0.5, "spearman": 0.5, "center_shift": 1.0, **metrics}
    return {"image_id": f"i{image}", "model": "bundled", "method": "gradient", "attack": attack,
            "criterion": "top-k", "defence": "none", "epsilon": eps / 255, "epsilon_255": eps, "seed": seed,
            "steps": 7, "k": 40, "beta": None if attack == "random-sign" else 10.0, "found": found,
            "label_kept": True, **values}


def by_hand_band(values: list[float]) -> tuple[float, float, float]:
    """mean and its 95% band, with Student's t for len(values) - 1 degrees of freedom."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf(0.975, n - 1) * std / math.sqrt(n)
    return mean, mean - half, mean + half


def point(table, attack="top-k", eps=2.0, method="gradient"):
    chosen = table[(table.method == method) & (table.attack == attack) & (table.epsilon_255 == eps)]
    assert len(chosen) == 1, chosen
    return chosen.iloc[0]


def test_the_t_quantile_is_students():
    assert report.t_quantile(8) == pytest.approx(2.3646, abs=1e-4)   # 7 degrees of freedom
    assert report.t_quantile(3) == pytest.approx(4.3027, abs=1e-4)
    assert math.isnan(report.t_quantile(1)) and math.isnan(report.t_quantile(0))


def test_a_point_averages_only_the_runs_that_found_a_label_keeping_perturbation():
    # image 3's run found nothing: it keeps the image's own numbers (Spearman 1)
    rows = pd.DataFrame([row(0, spearman=0.2), row(1, spearman=0.4), row(2, spearman=0.3),
                         row(3, spearman=1.0, found=False)])
    got = point(report.aggregate(rows, "spearman"))
    mean, low, high = by_hand_band([0.2, 0.4, 0.3])
    assert (got["n"], got["images"]) == (3, 4) and got["found"] == pytest.approx(0.75)
    assert got["mean"] == pytest.approx(mean) and got["mean"] == pytest.approx(0.3)
    assert (got["low"], got["high"]) == (pytest.approx(low), pytest.approx(high))


def test_seeds_are_averaged_within_an_image_not_counted_as_images():
    # a deterministic attack: the same numbers for seeds 0, 1 and 2
    rows = pd.DataFrame([row(image, seed=seed, spearman=value) for image, value in enumerate((0.1, 0.2, 0.6))
                         for seed in (0, 1, 2)])
    got = point(report.aggregate(rows, "spearman"))
    mean, low, high = by_hand_band([0.1, 0.2, 0.6])
    assert got["n"] == 3 and got["mean"] == pytest.approx(mean)
    assert (got["low"], got["high"]) == (pytest.approx(low), pytest.approx(high))
    # random sign's seeds differ: each image's found seeds are averaged first
    draws = pd.DataFrame([row(0, "random-sign", seed=0, spearman=0.2), row(0, "random-sign", seed=1, spearman=0.4),
                          row(1, "random-sign", seed=0, spearman=0.9, found=False),
                          row(1, "random-sign", seed=1, spearman=0.6)])
    got = point(report.aggregate(draws, "spearman"), "random-sign")
    assert got["n"] == 2 and got["found"] == pytest.approx(0.75) and got["mean"] == pytest.approx((0.3 + 0.6) / 2)
    title = report.curves(rows, ["spearman"]).layout.title.text
    assert title.startswith("bundled: 3 images, 3 seeds averaged per image, 7 steps")


def test_attack_minus_baseline_is_paired_over_the_images_where_both_found_one():
    attack = [0.1, 0.2, 0.15, 0.3]
    baseline = [0.5, 0.9, 0.45, 1.0]
    found = [True, True, True, False]   # no random sign draw kept image 3's label
    rows = pd.DataFrame([row(i, spearman=a) for i, a in enumerate(attack)] +
                        [row(i, "random-sign", spearman=b, found=f) for i, (b, f) in enumerate(zip(baseline, found))])
    got = point(report.paired(rows, "spearman"))
    mean, low, high = by_hand_band([a - b for a, b in zip(attack[:3], baseline[:3])])
    assert got["n"] == 3 and got["mean"] == pytest.approx(mean)
    assert (got["low"], got["high"]) == (pytest.approx(low), pytest.approx(high))
    assert len(report.paired(rows, "spearman")) == 1   # none for the baseline itself


def test_each_method_panel_has_the_attack_its_dashed_baseline_and_their_paired_difference():
    rows = made_up_rows()
    figure = report.curves(rows, ["top_k_intersection"])
    lines = [trace for trace in figure.data if trace.mode == "lines+markers"]
    assert len(lines) == 6   # 2 methods x (attack, baseline, attack - baseline)
    by_panel = {(trace.xaxis, trace.name): trace for trace in lines}
    attack, baseline = by_panel[("x", "top-k attack")], by_panel[("x", "random sign (top-k)")]
    # image 2 found nothing: the means are over images 0 and 1
    assert list(attack.x) == [2.0, 8.0] and list(attack.y) == pytest.approx([0.15, 0.15])
    assert list(baseline.y) == pytest.approx([0.45, 0.45]) and baseline.line.dash == "dash"
    assert attack.line.color == baseline.line.color and attack.line.dash == "solid"
    difference = by_panel[("x3", "top-k − random sign")]
    assert list(difference.y) == pytest.approx([-0.3, -0.3])
    assert [a.text for a in figure.layout.annotations if a.text] == ["Simple gradient", "Integrated gradients"]
    bands = [trace for trace in figure.data if trace.fill == "toself"]
    assert all(not trace.showlegend for trace in bands)
    # the legend names each line once
    assert sorted(trace.name for trace in lines if trace.showlegend) == [
        "random sign (top-k)", "top-k attack", "top-k − random sign"]


def test_every_point_shows_n_and_the_found_share():
    figure = report.curves(made_up_rows(), ["spearman"])
    attack = next(t for t in figure.data if t.name == "top-k attack" and t.xaxis == "x")
    assert [item[2] for item in attack.customdata] == ["n 2 of 3 images, found in 67% of the runs"] * 2
    assert "%{customdata[2]}" in attack.hovertemplate
    marks = [t for t in figure.data if t.mode == "text" and t.xaxis == "x"]
    assert marks and list(marks[0].text) == ["2/3", "2/3"]


def test_the_noise_floor_is_drawn_dotted_beside_the_baseline():
    rows = made_up_rows().assign(method="smoothgrad")
    rows["noise_floor_spearman"] = [0.7 if image == "i0" else 0.8 for image in rows["image_id"]]
    figure = report.curves(rows, ["spearman"])
    floor = [t for t in figure.data if t.name == "noise floor (no attack)"]
    assert len(floor) == 1 and floor[0].line.dash == "dot"
    assert list(floor[0].x) == [2.0, 8.0] and list(floor[0].y) == pytest.approx([0.7667, 0.7667], abs=1e-4)
    assert not [t for t in report.curves(made_up_rows(), ["spearman"]).data if t.name == "noise floor (no attack)"]


def test_defences_get_their_own_rows_of_panels():
    rows = made_up_rows()
    defended = rows.assign(defence="beta-smoothing", top_k_intersection=rows.top_k_intersection + 0.1)
    figure = report.curves(pd.concat([rows, defended]), ["top_k_intersection"])
    titles = [figure.layout[axis].title.text for axis in ("yaxis", "yaxis5")]   # rows 1 and 3 (2, 4: paired)
    assert titles == ["Top-k<br>intersection<br>(none)", "Top-k<br>intersection<br>(beta-smoothing)"]
    defended_line = next(t for t in figure.data if t.yaxis == "y5" and t.name == "top-k attack")
    assert list(defended_line.y) == pytest.approx([0.25, 0.25])


def test_summary_counts_images_found_n_and_means_over_the_found_runs():
    table = report.summary(made_up_rows())
    got = table[(table.method == "gradient") & (table.attack == "top-k") & (table.eps == 8)].iloc[0]
    assert got["images"] == 3 and got["n"] == 2 and got["found"] == pytest.approx(2 / 3)
    assert got["center_shift"] == pytest.approx(8.5) and got["spearman"] == pytest.approx(0.15)
    assert got["paired_n"] == 2 and got["top_k_intersection − random sign"] == pytest.approx(-0.3)
    assert "beta" not in table and "k" not in table   # columns only where the sweep varies them


def beta_rows() -> pd.DataFrame:
    """top-k at beta 1, 3, 10 and its random-sign baseline (no beta), 3 images."""
    rows = [row(image, beta=beta, spearman=value + 0.1 * image)
            for beta, value in ((1.0, 0.7), (3.0, 0.4), (10.0, 0.1)) for image in range(3)]
    rows += [row(image, "random-sign", spearman=0.8 + 0.05 * image) for image in range(3)]
    frame = pd.DataFrame(rows)
    frame.loc[frame.attack == "random-sign", "beta"] = None
    return frame


def test_the_beta_figure_draws_the_attack_against_beta_beside_its_flat_baseline():
    figure = report.parameter_curves(beta_rows(), "beta", ["spearman"], differences=False)
    attack = next(t for t in figure.data if t.name == "top-k attack")
    baseline = next(t for t in figure.data if t.name == "random sign (top-k)")
    assert list(attack.x) == [1.0, 3.0, 10.0] and list(attack.y) == pytest.approx([0.8, 0.5, 0.2])
    assert list(baseline.x) == [1.0, 3.0, 10.0] and list(baseline.y) == pytest.approx([0.85] * 3)
    assert figure.layout.xaxis.type == "log"
    # the eps curves get a row of panels per beta, each with the baseline
    curves = report.curves(beta_rows(), ["spearman"], differences=False)
    assert [curves.layout[a].title.text for a in ("yaxis", "yaxis2", "yaxis3")] == [
        f"Spearman rank<br>correlation<br>(β {beta})" for beta in (1, 3, 10)]
    assert len([t for t in curves.data if t.name == "random sign (top-k)"]) == 3
    with pytest.raises(fg.ConfigError, match="no axis parameter 'gamma'"):
        report.parameter_curves(beta_rows(), "gamma")
    table = report.summary(beta_rows())
    assert list(table[table.attack == "top-k"]["beta"]) == [1.0, 3.0, 10.0]


def test_figures_are_written_as_html_and_png(tmp_path):
    if not shutil.which("chromium"):
        pytest.skip("PNG export needs Chromium (apt-get install chromium)")
    written = report.write_figures(made_up_rows(), tmp_path)
    assert {path.name for path in written} == {f"{name}.{kind}" for kind in ("html", "png")
                                               for name in ("curves", *report.METRICS)}
    with_beta = report.write_figures(beta_rows(), tmp_path / "beta")
    assert {"beta.html", "beta.png"} <= {path.name for path in with_beta}
    assert (tmp_path / "plotly.min.js").is_file()   # once, beside the HTML files
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    figure = report.curves(made_up_rows())
    with Image.open(tmp_path / "curves.png") as png:   # drawn at the figure's own size, scale 2
        assert png.size == (2 * figure.layout.width, 2 * figure.layout.height)


def test_without_a_browser_the_figures_are_html_and_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-browser"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.warns(UserWarning, match="HTML only"):
        written = report.write_figures(made_up_rows(), tmp_path / "figures")
    assert all(path.suffix == ".html" for path in written)
    with pytest.warns(UserWarning, match="HTML only"):
        written = report.write_figures(beta_rows(), tmp_path / "beta")
    assert "beta.html" in {path.name for path in written}


def test_report_of_an_empty_folder_says_what_to_do(tmp_path):
    with pytest.raises(fg.ConfigError, match="no rows yet"):
        report.report(tmp_path)


def test_an_attack_without_beta_shows_in_every_beta_panel_not_a_panel_of_its_own():
    rows = beta_rows()
    pgd = rows[rows.attack == "top-k"].drop_duplicates("image_id").assign(attack="pgd", criterion="pgd", beta=None)
    figure = report.curves(pd.concat([rows, pgd]), ["spearman"], differences=False)
    assert [figure.layout[a].title.text for a in ("yaxis", "yaxis2", "yaxis3")] == [
        f"Spearman rank<br>correlation<br>(β {beta})" for beta in (1, 3, 10)]
    assert "yaxis4" not in figure.layout and len([t for t in figure.data if t.name == "pgd attack"]) == 3
