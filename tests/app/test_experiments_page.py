"""The experiments page through Streamlit's AppTest: a sweep that fills in, Stop, earlier results."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import fragility as fg
from app_driver import latest_job, run_until_done, wait_for_step
from dashboard.components import state

KEY = ["image_id", "method", "attack", "criterion", "defence", "epsilon", "seed"]


@pytest.fixture
def root(tmp_path, monkeypatch):
    folder = tmp_path / "results"
    monkeypatch.setenv("FRAGILITY_RESULTS", str(folder))
    return folder


def open_page(at: AppTest) -> AppTest:
    """Switch to the page registered under url_path "experiments" (a function page)."""
    hashes = [page_hash for page_hash, info in at._registered_pages.items()
              if info.get("url_pathname") == "experiments"]
    assert len(hashes) == 1, at._registered_pages
    at._page_hash = hashes[0]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def small_sweep(at: AppTest, steps: int = 3, images: int = 2) -> None:
    at.slider(key="sweep_images").set_value(images)
    at.multiselect(key="sweep_attacks").set_value(["top-k", "random-sign"])
    at.multiselect(key="sweep_epsilons").set_value([2, 8])
    at.number_input(key="sweep_steps").set_value(steps)
    at.run()


def curve_names(at: AppTest) -> list[set[str]]:
    """The names of the lines of each sweep chart on the page."""
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return [{trace["name"] for trace in spec["data"] if trace.get("mode") == "lines+markers"}
            for spec in specs]


def test_the_page_offers_a_small_default_sweep(app, root):
    open_page(app)
    assert app.title[0].value.startswith("Experiments")
    assert app.slider(key="sweep_images").value == 8
    assert app.multiselect(key="sweep_methods").value == ["gradient"]
    assert app.multiselect(key="sweep_attacks").value == ["top-k", "mass-center", "random-sign"]
    assert app.multiselect(key="sweep_epsilons").value == [1, 2, 4, 8]
    assert "targeted" not in app.multiselect(key="sweep_attacks").options   # needs a region per image
    assert not app.error


def test_a_sweep_runs_writes_its_folder_and_shows_curves_table_and_downloads(app, root):
    open_page(app)
    small_sweep(app)
    app.button(key="run_sweep").click().run()
    job = latest_job(app)
    run_until_done(app)
    assert not app.exception and not app.error, [e.value for e in app.error]
    rows = job.result
    assert len(rows) == 2 * 2 * 2 and rows.attrs["complete"]
    assert app.success[0].value.startswith("Finished 8 rows")
    expected = fg.sweep(state.named_model("bundled"), "synthetic:2", attacks=["top-k", "random-sign"],
                        epsilons=[2 / 255, 8 / 255], steps=3)
    columns = [c for c in rows.columns if c != "seconds"]
    pd.testing.assert_frame_equal(rows[columns].sort_values(KEY).reset_index(drop=True),
                                  expected[columns].sort_values(KEY).reset_index(drop=True))
    folders = [path for path in root.iterdir() if path.is_dir()]
    assert len(folders) == 1 and folders[0].name.startswith("bundled-")
    assert len(pd.read_parquet(folders[0] / "results.parquet")) == 8
    lines = {"top-k attack", "random sign (top-k)", "top-k − random sign"}
    assert curve_names(app) == [lines] * 2   # new, and listed as earlier
    summary = app.dataframe[0].value
    assert {"images", "found", "n", "paired_n"} <= set(summary.columns)
    assert any("found a label-keeping perturbation" in caption.value for caption in app.caption)
    labels = {button.label for button in app.get("download_button")}
    assert "Rows (Parquet)" in labels and "All figures (HTML and PNG, zip)" in labels


def test_stop_ends_the_sweep_and_keeps_the_finished_rows(app, root):
    open_page(app)
    small_sweep(app, steps=400, images=4)
    app.button(key="run_sweep").click().run()
    job = latest_job(app)
    wait_for_step(job, 0.01)
    assert job.running
    app.button(key="stop_sweep").click().run()
    run_until_done(app)
    assert job.stopped and not app.error, [e.value for e in app.error]
    assert app.warning[0].value.startswith("Stopped")
    assert not job.result.attrs["complete"]
    folder, = [path for path in root.iterdir() if path.is_dir()]
    assert len(pd.read_parquet(folder / "results.parquet")) == len(job.result) < 4 * 2 * 2


def test_earlier_results_open_from_the_results_folder_only(app, root, tmp_path):
    model = state.named_model("bundled")
    fg.sweep(model, "synthetic:2", attacks=["top-k", "random-sign"], epsilons=[4 / 255], steps=2,
             out=root / "earlier-run", figures=False)
    outside = tmp_path / "outside"
    fg.sweep(model, "synthetic:2", attacks=["top-k"], epsilons=[4 / 255], steps=2, out=outside,
             figures=False)
    (root / "linked").symlink_to(outside, target_is_directory=True)   # a link out of the root
    open_page(app)
    chooser = app.selectbox(key="sweep_open")
    assert len(chooser.options) == 1 and chooser.options[0].startswith("earlier-run: synthetic:2")
    assert not app.exception
    assert curve_names(app) == [{"top-k attack", "random sign (top-k)", "top-k − random sign"}]


def test_a_defence_adds_its_rows_and_panels(app, root):
    open_page(app)
    small_sweep(app)
    app.multiselect(key="sweep_epsilons").set_value([8]).run()
    app.multiselect(key="sweep_defences").set_value(["none", "beta-smoothing"]).run()
    app.button(key="run_sweep").click().run()
    job = latest_job(app)
    run_until_done(app)
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert sorted(set(job.result["defence"])) == ["beta-smoothing", "none"] and len(job.result) == 8
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    # top-k of each defence (yaxis2: the paired difference below the first)
    titles = [spec["layout"][axis]["title"]["text"] for axis in ("yaxis", "yaxis3")]
    assert titles[0].endswith("(none)") and titles[1].endswith("(beta-smoothing)")


def test_a_damaged_earlier_result_is_one_message_in_place(app, root):
    model = state.named_model("bundled")
    fg.sweep(model, "synthetic:2", attacks=["top-k"], epsilons=[4 / 255], steps=1,
             out=root / "damaged-run", figures=False)
    part = sorted((root / "damaged-run" / "results.parquet").glob("part-*.parquet"))[0]
    part.write_bytes(b"")
    open_page(app)
    assert not app.exception
    shown = [error.value.replace("\\", "") for error in app.error]
    assert len(shown) == 1 and part.name in shown[0] and "is not a readable Parquet file" in shown[0]
    assert str(root) not in shown[0]
