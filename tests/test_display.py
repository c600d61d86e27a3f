"""Results in a notebook: each type's rich HTML (its tiles, its metrics beside their
baselines, a verdict), an 80-column repr, and fg.plot drawing the dashboard's charts of it."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch
from PIL import Image

import fragility as fg
from fragility import display, figures, rendering
from fragility.experiments import report
from nets import make_cnn

IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def pictures(html: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
            for data in IMG.findall(html)]


def assert_fits_a_terminal(text: str) -> None:
    lines = text.splitlines()
    assert len(lines) >= 3 and all(len(line) <= 80 for line in lines), text
    assert "tensor(" not in text          # not the dataclass's repr of every field


@pytest.fixture(scope="module")
def attacked():
    torch.manual_seed(0)
    model, images = make_cnn(), torch.rand(2, 3, 16, 16, dtype=torch.float64)
    arguments = dict(epsilon=8 / 255, steps=6, k=20, seed=0)
    result = fg.attack(model, images, "gradient", "top-k", step_size=2 / 255, **arguments)
    baseline = fg.attack(model, images, "gradient", "random-sign", **arguments)
    return images, result, baseline


# ---------------------------------------------------------------- AttackResult

def test_an_attack_shows_the_dashboards_five_tiles_of_the_first_image(attacked):
    images, result, _ = attacked
    assert result.images is not None and torch.equal(result.images, images)
    tiles = pictures(result._repr_html_())
    assert len(tiles) == 5
    expected = [rendering.to_pil(images[0], display.TILE), rendering.to_pil(result.perturbed[0], display.TILE),
                rendering.perturbation(images[0], result.perturbed[0], 8 / 255, display.TILE),
                rendering.overlay(images[0], result.original_maps[0], 0.65, display.TILE),
                rendering.overlay(result.perturbed[0], result.perturbed_maps[0], 0.65, display.TILE)]
    for tile, picture in zip(tiles, expected):
        np.testing.assert_array_equal(tile, np.asarray(picture.convert("RGB")))   # PNG: lossless


def test_without_the_original_images_the_tiles_that_need_them_are_left_out(attacked):
    _, result, _ = attacked
    html = replace(result, images=None)._repr_html_()
    tiles = pictures(html)
    assert len(tiles) == 3      # perturbed, the original map on its own, the perturbed map
    np.testing.assert_array_equal(tiles[1], np.asarray(rendering.map_tile(result.original_maps[0], display.TILE)))
    assert "result.images" in html


def test_the_metrics_stand_beside_the_baseline_and_the_noise_floor(attacked):
    _, result, baseline = attacked
    shown = replace(result, noise_floor={"spearman": torch.tensor([0.5, 0.7]),
                                         "top_k_intersection": torch.tensor([0.25, 0.75]),
                                         "center_shift": torch.tensor([1.0, 2.0])})
    shown.baseline = baseline
    html = shown._repr_html_()
    assert "<th>random sign</th>" in html and "<th>noise floor</th>" in html
    found = result.found.bool()
    for name, label, form in display.ATTACK_METRICS:
        attack = form.format(float(result.metrics[name][found].mean()))
        random = form.format(float(baseline.metrics[name][baseline.found.bool()].mean()))
        floor = form.format(float(shown.noise_floor[name].mean()))
        assert f"<td>{label}</td><td>{attack}</td><td>{random}</td><td>{floor}</td>" in html
    assert "<td>0.600</td>" in html    # the noise floor's Spearman: (0.5 + 0.7) / 2
    text = repr(shown)
    assert_fits_a_terminal(text)
    assert "random sign" in text and "noise floor" in text


@pytest.mark.parametrize("spearman, verdict", [
    (0.2, "far more than random noise of the same size"),
    (0.85, "more than, but not far more than, random noise"),
    (0.95, "no more than random noise"),
])
def test_the_verdict_reads_the_attack_against_its_baseline(attacked, spearman, verdict):
    _, result, baseline = attacked
    everywhere = torch.ones(2, dtype=torch.bool)
    shown = replace(result, found=everywhere, metrics={**result.metrics, "spearman": torch.full((2,), spearman)})
    shown.baseline = replace(baseline, found=everywhere,
                             metrics={**baseline.metrics, "spearman": torch.full((2,), 0.9)})
    assert verdict in shown._repr_html_()
    assert verdict.split(" ")[0] in repr(shown)


def test_no_perturbation_found_says_so_and_shows_no_numbers(attacked):
    _, result, _ = attacked
    shown = replace(result, found=torch.zeros(2, dtype=torch.bool))
    html = shown._repr_html_()
    assert "no label-keeping perturbation found in 6 steps" in html
    assert f"<td>Spearman</td><td>{display.DASH}</td>" in html
    assert "no label-keeping perturbation found" in repr(shown)


def test_plot_draws_the_histories_of_the_attack_and_its_baseline(attacked):
    _, result, baseline = attacked
    figure = fg.plot(result, baseline=baseline)
    assert isinstance(figure, go.Figure)
    traces = {(trace.xaxis, trace.name): trace for trace in figure.data}
    assert set(traces) == {("x", "random sign"), ("x", "attack"), ("x2", "random sign"), ("x2", "attack")}
    for axis, metric in (("x", "spearman"), ("x2", "top_k_intersection")):
        attack = traces[(axis, "attack")]
        assert list(attack.x) == [row["step"] for row in result.history]
        assert list(attack.y) == [row[metric][0] for row in result.history]
        assert list(traces[(axis, "random sign")].y) == [row[metric][0] for row in baseline.history]
    # the same traces as the dashboard's chart
    chart = figures.per_step(result.history, baseline.history, "spearman", "", 6)
    assert [list(t.y) for t in chart.data] == [list(traces[("x", name)].y) for name in ("random sign", "attack")]


def test_plot_takes_the_baseline_from_the_result_when_it_has_one(attacked):
    _, result, baseline = attacked
    alone = fg.plot(result)
    assert [trace.name for trace in alone.data] == ["attack", "attack"]
    shown = replace(result)
    shown.baseline = baseline
    assert [trace.name for trace in fg.plot(shown).data].count("random sign") == 2


def test_plot_refuses_what_it_cannot_draw():
    with pytest.raises(fg.ConfigError, match="fg.plot draws an AttackResult.*got dict"):
        fg.plot({"spearman": 0.5})


def test_import_fragility_stays_light():
    code = "import sys, fragility; print(sorted(m for m in ('plotly', 'plotly.graph_objects') if m in sys.modules))"
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert printed.stdout.strip() == "[]"


# ---------------------------------------------------------------- sanity checks

@pytest.fixture(scope="module")
def cascading():
    torch.manual_seed(0)
    return fg.cascading_randomization(make_cnn(), torch.rand(2, 3, 16, 16, dtype=torch.float64), seed=0)


def test_a_sanity_check_shows_the_trained_map_and_one_per_layer(cascading):
    html = cascading._repr_html_()
    tiles = pictures(html)
    assert len(tiles) == 1 + len(cascading.layers) == 4
    np.testing.assert_array_equal(tiles[0], np.asarray(rendering.map_tile(cascading.original_maps[0], display.MAP_TILE)))
    np.testing.assert_array_equal(tiles[-1], np.asarray(rendering.map_tile(cascading.maps[-1][0], display.MAP_TILE)))
    for step, layer in enumerate(cascading.layers):
        spearman = f"{float(cascading.metrics['spearman'][step].double().nanmean()):.3f}"
        ssim = f"{float(cascading.metrics['ssim'][step].double().nanmean()):.3f}"
        assert f"<td>{layer}</td><td>{spearman}</td><td>{ssim}</td>" in html
    last = float(cascading.metrics["spearman"][-1].double().nanmean())
    assert f"Spearman {last:.2f} with every layer random" in html
    assert_fits_a_terminal(repr(cascading))


def test_plot_of_a_sanity_check_is_the_pages_per_layer_chart(cascading):
    figure = fg.plot(cascading)
    lines = {trace.name: trace for trace in figure.data}
    for name in figures.SANITY_METRICS:
        line = lines[figures.sanity_title(name, cascading.config["k"])]
        assert list(line.x) == cascading.layers
        assert list(line.y) == pytest.approx(cascading.metrics[name][:, 0].tolist(), nan_ok=True)


def test_sanity_checks_show_progress_only_when_asked(capsys):
    images = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    steps = []
    fg.cascading_randomization(make_cnn(), images, progress=True, callback=lambda step, row: steps.append(step))
    assert steps == [1, 2, 3]                                  # the caller's callback still runs
    err = capsys.readouterr().err
    assert "randomising layers" in err and "3/3" in err
    fg.cascading_randomization(make_cnn(), images)
    assert capsys.readouterr().err == ""
    stopped = fg.independent_randomization(make_cnn(), images, progress=True, callback=lambda step, row: False)
    assert len(stopped.layers) == 1 and "1/3" in capsys.readouterr().err


@pytest.fixture(scope="module")
def shuffled():
    torch.manual_seed(0)
    return fg.data_randomization(make_cnn(), make_cnn(seed=1), torch.rand(2, 3, 16, 16, dtype=torch.float64),
                                 methods=["gradient", "gradient-x-input"])


def test_data_randomisation_shows_both_maps_of_each_method_and_the_noise_floor(shuffled):
    html = shuffled._repr_html_()
    tiles = pictures(html)
    assert len(tiles) == 2 * len(shuffled.methods) == 4
    np.testing.assert_array_equal(tiles[3], np.asarray(rendering.map_tile(shuffled.shuffled_maps["gradient-x-input"][0],
                                                                          display.MAP_TILE)))
    for method in shuffled.methods:
        value = f"{float(shuffled.metrics[method]['spearman'].mean()):.3f}"
        assert f"<td>{method}</td><td>{value}</td><td>1.000</td>" in html   # deterministic: floor 1
    assert_fits_a_terminal(repr(shuffled))


def test_plot_of_data_randomisation_is_the_pages_per_method_chart(shuffled):
    figure = fg.plot(shuffled)
    bars = [trace for trace in figure.data if isinstance(trace, go.Bar)]
    spearman = next(bar for bar in bars if bar.name == figures.sanity_title("spearman"))
    assert list(spearman.x) == shuffled.methods
    assert list(spearman.y) == pytest.approx([float(shuffled.metrics[m]["spearman"][0]) for m in shuffled.methods])


def test_without_a_control_the_data_display_gives_no_verdict(shuffled):
    changed = replace(shuffled, metrics={"gradient": {**shuffled.metrics["gradient"], "spearman": torch.tensor([0.1, 0.1])},
                                         "gradient-x-input": {**shuffled.metrics["gradient-x-input"],
                                                              "spearman": torch.tensor([0.95, 0.95])}})
    text = repr(changed).replace("\n  ", " ")
    assert "without a control model there is no verdict; gradient-x-input barely moved" in text
    assert "changed with the shuffled labels" not in text


@pytest.fixture(scope="module")
def controlled():
    torch.manual_seed(0)
    return fg.data_randomization(make_cnn(), make_cnn(seed=1), torch.rand(3, 3, 16, 16, dtype=torch.float64),
                                 methods=["gradient", "gradient-x-input"], control_model=make_cnn(seed=2))


def test_with_a_control_the_data_display_compares_with_it(controlled):
    html = controlled._repr_html_()
    assert len(pictures(html)) == 3 * len(controlled.methods)       # trained, shuffled, control
    passes = controlled.below_control()
    for method in controlled.methods:
        shuffled = f"{float(controlled.metrics[method]['spearman'].mean()):.3f}"
        control = f"{float(controlled.control_metrics[method]['spearman'].mean()):.3f}"
        verdict = "yes" if passes[method] else "no"
        assert f"<td>{method}</td><td>{shuffled}</td><td>{control}</td><td>{verdict}</td>" in html
    assert "noise floor" not in html
    figure = fg.plot(controlled)
    ticks = [trace for trace in figure.data if trace.name == "control model"]
    assert list(ticks[0].y) == pytest.approx([float(controlled.control_metrics[m]["spearman"][0])
                                              for m in controlled.methods])
    assert_fits_a_terminal(repr(controlled))


# ---------------------------------------------------------------- influence, manipulation, sweeps

def test_an_influence_attack_shows_its_perturbed_image_and_the_baseline():
    generator = torch.Generator().manual_seed(0)
    train = torch.rand(20, 3, 8, 8, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 5, (20,), generator=generator)
    test = torch.rand(1, 3, 8, 8, generator=generator, dtype=torch.float64)
    result = fg.influence_attack(make_cnn(seed=1), test, train, labels, steps=4, k=3)
    html = result._repr_html_()
    tiles = pictures(html)
    assert len(tiles) == 1
    np.testing.assert_array_equal(tiles[0], np.asarray(rendering.to_pil(result.perturbed[0], display.TILE)))
    assert "<th>random sign</th>" in html and "top-k influence after" in html
    if bool(result.found[0]):
        assert f"from {float(result.metrics['top_k_influence_before'][0]):.3g}" in html
    assert_fits_a_terminal(repr(result))
    figure = fg.plot(result)      # the baseline is the result's own
    assert {trace.name for trace in figure.data} == {"attack", "random sign"}


def test_a_manipulation_shows_how_the_mass_in_the_region_moved():
    torch.manual_seed(0)
    images = torch.rand(4, 3, 16, 16, dtype=torch.float64)
    result = fg.manipulate(make_cnn(), images, torch.tensor([0, 1, 2, 3]), steps=3, batch_size=2)
    first, last = result.history[0]["mass"], result.history[-1]["mass"]
    html = result._repr_html_()
    assert "<img" not in html
    assert f"<td>mass in region</td><td>{first:.3g}</td><td>{last:.3g}</td>" in html
    assert f"put {last:.0%} of their mass in the top-left region, from {first:.0%}" in html
    assert_fits_a_terminal(repr(result))


def test_plot_of_a_sweeps_rows_is_the_reports_curves():
    rows = pd.DataFrame([{"image_id": f"i{image}", "model": "bundled", "method": "gradient", "attack": attack,
                          "criterion": "top-k", "defence": "none", "epsilon": eps / 255, "epsilon_255": eps,
                          "seed": 0, "steps": 5, "top_k_intersection": 0.1 * image, "spearman": 0.2 * image,
                          "center_shift": eps, "found": True, "label_kept": True}
                         for attack in ("top-k", "random-sign") for eps in (2.0, 8.0) for image in range(3)])
    assert fg.plot(rows).to_dict() == report.curves(rows).to_dict()
