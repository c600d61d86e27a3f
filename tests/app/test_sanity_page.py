"""The sanity-check page (parameter randomisation) through Streamlit's AppTest."""

from __future__ import annotations

import json
import math

import pytest
import torch
from streamlit.testing.v1 import AppTest

import fragility as fg
from app_driver import latest_job, run_until_done, wait_for_step
from dashboard.components import state

METRICS = ("spearman", "spearman_signed", "ssim", "hog", "top_k_intersection")


def metric_titles(k: int) -> dict[str, str]:
    return {"spearman": "Spearman ρ", "spearman_signed": "Spearman ρ, signed (no abs)",
            "ssim": "SSIM", "hog": "HOG similarity", "top_k_intersection": f"Top-{k} intersection"}


def open_sanity_page(at: AppTest) -> AppTest:
    """Switch to the page registered under url_path "sanity" and run it.

    AppTest.switch_page only matches pages that are files; this page is a function given to
    st.navigation, so its page hash is looked up in the registry AppTest keeps.
    """
    hashes = [page_hash for page_hash, info in at._registered_pages.items()
              if info.get("url_pathname") == "sanity"]
    assert len(hashes) == 1, at._registered_pages
    at._page_hash = hashes[0]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def run_check(at: AppTest):
    at.button(key="run_sanity").click().run()
    job = latest_job(at)
    run_until_done(at)
    assert not at.exception and not at.error, [e.value for e in at.error]
    return job


def chart_lines(at: AppTest) -> dict[str, tuple[list, list]]:
    """name -> (x, y) of each line of the sanity chart, as sent to the browser."""
    charts = [chart for chart in at.get("plotly_chart") if "Similarity to the trained" in
              chart.proto.spec]
    assert len(charts) == 1
    spec = json.loads(charts[0].proto.spec)
    return {trace["name"]: (trace["x"], trace["y"]) for trace in spec["data"]
            if trace.get("type") == "scatter"}


def chart_lines_present(at: AppTest) -> bool:
    return any("Similarity to the trained" in chart.proto.spec for chart in at.get("plotly_chart"))


def tile_captions(at: AppTest) -> list[str]:
    return [caption for image in at.main.get("image") for caption in image.captions
            if caption != "low → high saliency"]


def sample_image(at: AppTest) -> torch.Tensor:
    name = at.selectbox(key="image_choice").value
    sample = next(s for s in fg.samples("synthetic") if s.name == name)
    return sample.load(size=64)


def assert_chart_matches(at: AppTest, expected: fg.SanityResult) -> None:
    lines = chart_lines(at)
    k = expected.config["k"]
    titles = metric_titles(k)
    model = state.named_model("bundled")
    layers = [f"{name} · {type(model.net.get_submodule(name)).__name__}"
              for name in expected.layers]
    for metric in METRICS:
        x, y = lines[titles[metric]]
        assert x == layers
        want = expected.metrics[metric][:, 0].tolist()
        assert len(y) == len(want)
        for shown, value in zip(y, want):
            if math.isnan(value):
                assert shown is None
            else:
                assert shown == pytest.approx(value, abs=1e-6)


def test_page_is_in_the_navigation_and_explains_the_test(app):
    open_sanity_page(app)
    assert "Sanity Checks for Saliency Maps" in " ".join(m.value for m in app.markdown)
    assert app.radio(key="sanity_mode").value == "cascading"
    assert app.radio(key="sanity_mode").options == ["Cascading", "Independent"]
    assert not app.error


def test_cascading_run_shows_a_tile_per_layer_and_the_metrics_of_the_api(app):
    open_sanity_page(app)
    job = run_check(app)
    image = sample_image(app)
    model = state.named_model("bundled")
    expected = fg.cascading_randomization(model, image[None], "gradient", seed=0)
    result = job.result
    assert result.config["mode"] == "cascading" and result.layers == expected.layers
    for metric in METRICS:
        torch.testing.assert_close(result.metrics[metric], expected.metrics[metric],
                                   equal_nan=True)
    assert_chart_matches(app, expected)
    assert app.success[0].value.startswith(f"Randomised {len(expected.layers)} layers")

    # 15 layers: the trained map and 7 evenly spaced steps, the first and last among them
    captions = tile_captions(app)
    assert captions[0] == "Trained network"
    steps = captions[1:]
    assert len(steps) == 7 < len(expected.layers)
    top, bottom = expected.layers[0], expected.layers[-1]
    assert steps[0] == f"random: {top} · {type(model.net.get_submodule(top)).__name__}"
    assert steps[-1] == f"random: {bottom} · {type(model.net.get_submodule(bottom)).__name__}"

    app.toggle(key="sanity_every_layer").set_value(True).run()   # a redraw, same job
    assert latest_job(app) is job
    assert len(tile_captions(app)) == len(expected.layers) + 1

    assert not app.dataframe                 # the values are drawn once their expander opens
    app.session_state["sanity_details"] = True
    app.run()
    table = app.dataframe[0].value
    assert len(table) == len(expected.layers)
    assert list(table.iloc[:, 1]) == pytest.approx(
        expected.metrics[METRICS[0]][:, 0].tolist(), nan_ok=True)
    assert json.loads(app.json[0].value)["mode"] == "cascading"


def test_independent_mode_runs_its_own_check(app):
    open_sanity_page(app)
    app.radio(key="sanity_mode").set_value("independent").run()
    job = run_check(app)
    image = sample_image(app)
    expected = fg.independent_randomization(state.named_model("bundled"), image[None],
                                            "gradient", seed=0)
    assert job.result.config["mode"] == "independent"
    for metric in METRICS:
        torch.testing.assert_close(job.result.metrics[metric], expected.metrics[metric],
                                   equal_nan=True)
    assert_chart_matches(app, expected)

    app.radio(key="sanity_mode").set_value("cascading").run()   # not run yet: nothing cached
    assert not chart_lines_present(app)
    app.radio(key="sanity_mode").set_value("independent").run()  # the cached result again
    assert latest_job(app) is job
    assert_chart_matches(app, expected)



def test_method_and_seed_from_the_page_reach_the_check(app):
    app.selectbox(key="method").set_value("gradcam").run()
    open_sanity_page(app)
    app.number_input(key="sanity_seed").set_value(3).run()
    job = run_check(app)
    expected = fg.cascading_randomization(state.named_model("bundled"), sample_image(app)[None],
                                          "gradcam", seed=3)
    assert job.result.config["method"] == "gradcam" and job.result.config["seed"] == 3
    assert_chart_matches(app, expected)     # Grad-CAM's constant maps: gaps, not lines to NaN


def test_init_and_a_chosen_class_from_the_page_reach_the_check(app):
    open_sanity_page(app)
    assert any("explains the predicted class, **disc**" in m.value for m in app.markdown)
    app.selectbox(key="target_class").set_value(4).run()
    assert any("explains class **4: star** (the network predicts disc" in m.value for m in app.markdown)
    app.selectbox(key="sanity_init").set_value("truncated-normal").run()
    job = run_check(app)
    expected = fg.cascading_randomization(state.named_model("bundled"), sample_image(app)[None],
                                          "gradient", target=4, init="truncated-normal")
    assert job.result.config["init"] == "truncated-normal" and job.result.labels.tolist() == [4]
    assert_chart_matches(app, expected)


def test_data_randomization_compares_every_method_on_the_shuffled_twin(app):
    from dashboard.views import data_randomization
    app.selectbox(key="method").set_value("integrated-gradients").run()
    app.number_input(key="option:integrated-gradients:steps").set_value(8).run()
    open_sanity_page(app)
    assert "shuffled labels" in " ".join(m.value for m in app.markdown)
    app.selectbox(key="target_class").set_value(2).run()
    app.button(key="run_data_randomization").click().run()
    job = latest_job(app)
    run_until_done(app)
    assert not app.exception and not app.error, [e.value for e in app.error]
    result = job.result
    expected = fg.data_randomization(state.named_model("bundled"), state.named_model("bundled-shuffled"),
                                     sample_image(app)[None], target=2,
                                     method_options={"integrated-gradients": {"steps": 8}},
                                     control_model=state.named_model("bundled-control"))
    assert result.methods == fg.methods() and result.labels.tolist() == [2]
    assert result.config["method_options"]["integrated-gradients"]["steps"] == 8
    charts = [chart for chart in app.get("plotly_chart") if "shuffled-label model" in chart.proto.spec]
    assert len(charts) == 1
    traces = json.loads(charts[0].proto.spec)["data"]
    bars = {trace["name"]: trace["y"] for trace in traces if trace.get("type") == "bar"}
    ticks = [trace["y"] for trace in traces if trace.get("name") == data_randomization.FLOOR]
    assert ticks[0] == pytest.approx([expected.control_metrics[name]["spearman"][0].item()
                                      for name in fg.methods()], abs=1e-6)   # the control, not 1
    titles = metric_titles(result.config["k"])
    for name in fg.methods():
        for metric in METRICS:
            torch.testing.assert_close(result.metrics[name][metric], expected.metrics[name][metric],
                                       equal_nan=True)
        assert bars[titles["spearman"]][fg.methods().index(name)] == pytest.approx(
            expected.metrics[name]["spearman"][0].item(), abs=1e-6)
    captions = tile_captions(app)
    assert f"{fg.get_method('gradient').title} · shuffled labels" in captions
    assert f"{fg.get_method('gradient').title} · control" in captions
    assert data_randomization.verdict(expected) in [m.value for m in app.markdown]
    assert any(s.value.startswith(f"Compared {len(fg.methods())} methods") for s in app.success)

    assert not app.dataframe                 # the values are drawn once their expander opens
    app.session_state["data_randomization_details"] = True
    app.run()
    table = app.dataframe[0].value
    assert list(table["method"]) == [fg.get_method(name).title for name in fg.methods()]
    assert list(table[titles["spearman"]]) == pytest.approx(
        [expected.metrics[name]["spearman"][0].item() for name in fg.methods()], abs=1e-6)


def test_data_randomization_asks_for_the_bundled_model_elsewhere(app, monkeypatch):
    from dashboard.views import data_randomization
    monkeypatch.setattr(data_randomization, "TRAINED", "no-such-model")
    open_sanity_page(app)
    assert any("Bundled (offline)" in info.value for info in app.info)
    assert not [button for button in app.button if button.key == "run_data_randomization"]


def test_stop_keeps_the_layers_run_so_far(app):
    app.selectbox(key="method").set_value("smoothgrad").run()    # slow enough to stop
    open_sanity_page(app)
    app.button(key="run_sanity").click().run()
    job = latest_job(app)
    wait_for_step(job, 1)
    app.run()
    app.button(key="stop_sanity").click().run()
    run_until_done(app)
    result = job.result
    assert result.stopped_early and 1 <= len(result.layers) < job.total
    assert any(w.value.startswith(f"Stopped after {len(result.layers)} of {job.total}")
               for w in app.warning)
    assert len(chart_lines(app)["SSIM"][1]) == len(result.layers)


def test_a_failing_check_is_an_error_in_place(app, monkeypatch):
    def broken(*args, **kwargs):
        raise fg.ConfigError("layers must name each layer once")
    from dashboard.views import sanity
    monkeypatch.setitem(sanity.RUNS, "cascading", broken)
    open_sanity_page(app)
    app.button(key="run_sanity").click().run()
    run_until_done(app)
    assert not app.exception
    assert any("layers must name each layer once" in e.value for e in app.error)
