"""The dashboard's choices and their results, through Streamlit's AppTest."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from streamlit.testing.v1 import AppTest

import fragility as fg
from app_driver import APP, latest_job, open_page, run_until_done, wait_for_step
from dashboard.components import export, state


def set_steps(at: AppTest, steps: int) -> None:
    at.number_input(key="steps").set_value(steps)


def run_attack(at: AppTest, steps: int):
    """Press Run attack with `steps` steps and wait for the page to show the end; the job."""
    set_steps(at, steps)
    at.run()
    at.button(key="run_attack").click().run()
    job = latest_job(at)
    run_until_done(at)
    return job


CARDS = ["Spearman ρ", "Top-k intersection", "Center shift", "Label kept"]


def captions(at: AppTest) -> list[str]:
    return [caption for image in at.get("image") for caption in image.captions]


def metric_values(at: AppTest) -> dict[str, tuple[str, str]]:
    return {metric.label: (metric.value, metric.delta) for metric in at.metric}


def test_first_paint_shows_defaults_and_the_original_map(app):
    assert app.radio(key="model_source").value == "Bundled (offline)"
    assert app.selectbox(key="method").value == "gradient"
    assert app.selectbox(key="attack").value == "top-k"
    assert app.slider(key="epsilon").value == 8
    assert app.number_input(key="steps").value == 100
    first_synthetic = fg.samples("synthetic")[0].name
    assert app.selectbox(key="image_choice").value == first_synthetic
    assert any(caption.startswith("Original: ") for caption in captions(app))
    assert any(caption.endswith(" map") for caption in captions(app))
    assert "Device:" in " ".join(c.value for c in app.sidebar.caption)
    assert not app.error


@pytest.mark.slow
def test_default_run_produces_metrics_next_to_the_random_baseline(app):
    app.button(key="run_attack").click().run()
    job = latest_job(app)
    run_until_done(app)
    assert not app.exception and not app.error, [e.value for e in app.error]
    result, baseline = job.result
    assert result.config["method"] == "gradient" and result.config["attack"] == "top-k"
    assert result.config["epsilon"] == pytest.approx(8 / 255)
    assert baseline.config["attack"] == "random-sign"
    shown = metric_values(app)
    for label in CARDS:
        assert label in shown
        assert shown[label][1].startswith("random sign: ")
    assert shown["Spearman ρ"][0] == f"{float(result.metrics['spearman'][0]):.2f}"
    assert shown["Spearman ρ"][1] == \
        f"random sign: {float(baseline.metrics['spearman'][0]):.2f}"
    assert shown["Top-k intersection"][0] == f"{float(result.metrics['top_k_intersection'][0]):.0%}"
    # a generated sample has an object mask, so the mass-on-object card is there too
    assert any(label.startswith("On the object (was ") for label in shown)
    assert len(job.history) == result.steps_run and job.history[-1]["step"] == result.steps_run
    assert len(job.center_path) == result.steps_run
    assert app.success[0].value.startswith(f"Finished {result.steps_run} steps")


def test_rerun_reuses_the_cached_result(app):
    job = run_attack(app, 4)
    app.slider(key="opacity").set_value(0.3).run()      # a redraw, not a recomputation
    assert latest_job(app) is job and len(app.session_state["jobs"]) == 1
    assert "Spearman ρ" in metric_values(app)


@pytest.mark.parametrize("method", ["integrated-gradients", "smoothgrad", "gradcam"])
def test_switching_method_shows_its_options_and_attacks_it(app, method):
    app.selectbox(key="method").set_value(method).run()
    options = fg.get_method(method).options
    for name in options:
        assert app.get_by_key(f"option:{method}:{name}") is not None
    job = run_attack(app, 3)
    assert not app.error, [e.value for e in app.error]
    assert job.result[0].config["method"] == method
    assert "Spearman ρ" in metric_values(app)


@pytest.mark.parametrize("attack", ["mass-center", "targeted", "target-map", "random-sign", "pgd"])
def test_switching_attack_runs_it(app, attack):
    app.selectbox(key="attack").set_value(attack).run()
    if attack == "targeted":
        assert app.radio(key="region_kind").value == "Object mask"
    job = run_attack(app, 3)
    assert not app.error, [e.value for e in app.error]
    result = job.result[0]
    assert result.config["attack"] == attack
    assert "Spearman ρ" in metric_values(app)


def test_targeted_rectangle_region_is_passed_to_the_attack(app):
    app.selectbox(key="attack").set_value("targeted").run()
    app.radio(key="region_kind").set_value("Rectangle").run()
    app.slider(key="region_rows").set_value((4, 20))
    app.slider(key="region_cols").set_value((30, 60))
    job = run_attack(app, 2)
    region = torch.tensor(job.result[0].config["region"], dtype=torch.bool).reshape(-1, 64, 64)[0]
    expected = torch.zeros(64, 64, dtype=torch.bool)
    expected[4:20, 30:60] = True
    assert torch.equal(region, expected)


def test_offline_zoo_model_explains_itself_and_the_app_keeps_working(app):
    app.radio(key="model_source").set_value("Torchvision zoo").run()
    app.selectbox(key="zoo_model").set_value("resnet18").run()
    assert not app.exception
    messages = " ".join(error.value for error in app.error)
    assert "resnet18" in messages and "bundled" in messages.lower()
    assert "run_attack" not in [button.key for button in app.button]   # nothing to run without a model
    app.radio(key="model_source").set_value("Bundled (offline)").run()
    assert not app.error
    run_attack(app, 2)
    assert "Spearman ρ" in metric_values(app)


def test_broken_upload_is_an_error_in_place(app):
    app.selectbox(key="image_choice").set_value("Upload your own image").run()
    app.file_uploader(key="image_file").set_value(("broken.png", b"not an image", "image/png")).run()
    assert not app.exception
    assert any("broken" in e.value.lower() or "image" in e.value.lower() for e in app.error)
    app.selectbox(key="image_choice").set_value(fg.samples("synthetic")[0].name).run()
    assert not app.error


def test_uploaded_image_is_attacked(app):
    sample = fg.samples("synthetic")[1]
    app.selectbox(key="image_choice").set_value("Upload your own image").run()
    app.file_uploader(key="image_file").set_value(
        (sample.path.name, sample.path.read_bytes(), "image/png")).run()
    job = run_attack(app, 2)
    assert not app.error, [e.value for e in app.error]
    assert "Spearman ρ" in metric_values(app)
    assert not any(label.startswith("On the object") for label in metric_values(app))
    assert job.result[0].perturbed.shape == (1, 3, 64, 64)


def test_broken_labels_file_is_an_error_in_place(app):
    app.file_uploader(key="labels_file").set_value(("labels.json", b"{not json", "application/json"))
    app.run()
    assert not app.exception
    assert any("labels" in e.value for e in app.error)


def test_labels_file_renames_the_classes(app):
    labels = [f"shape number {i}" for i in range(len(state.named_model("bundled").labels))]
    app.file_uploader(key="labels_file").set_value(("labels.txt", "\n".join(labels).encode(),
                                                    "text/plain")).run()
    assert not app.error
    assert any(caption.startswith("Original: shape number") for caption in captions(app))
    assert state.named_model("bundled").labels[0] != labels[0]   # the cached model is untouched


@pytest.mark.slow
def test_stop_keeps_the_best_so_far(app):
    set_steps(app, 1000)
    app.run()
    app.button(key="run_attack").click().run()
    job = latest_job(app)
    wait_for_step(job, 3, timeout=600, phase="attack")   # after the random-sign baseline
    app.run()
    app.button(key="stop_attack").click().run()
    run_until_done(app)
    result = job.result[0]
    assert result.stopped_early and 3 <= result.steps_run < 1000
    assert any(w.value.startswith(f"Stopped after {result.steps_run} of 1000") for w in app.warning)
    assert "Spearman ρ" in metric_values(app)


def test_exports_reproduce_the_run(app):
    job = run_attack(app, 5)
    result = job.result[0]
    downloads = {button.key: button for button in app.get("download_button")}
    assert {"export_png", "export_panel", "export_csv", "export_json",
            "export_snippet", "export_report"} <= set(downloads)
    assert downloads["export_report"].label == "Report (HTML)"
    assert downloads["export_report"].proto.HasField("deferred_file_id")   # drawn when clicked
    assert not app.code                       # drawn only once its expander is opened
    app.session_state["attack_snippet"] = True
    app.run()
    code = app.code[0].value
    namespace: dict = {}
    exec(compile(code, "reproduce.py", "exec"), namespace)   # the snippet runs as printed
    again = namespace["result"]
    for name in ("spearman", "top_k_intersection", "center_shift"):
        torch.testing.assert_close(again.metrics[name].cpu(), result.metrics[name].cpu())
    torch.testing.assert_close(again.perturbed.cpu(), result.perturbed.cpu())


def test_report_download_holds_the_run_its_baseline_and_the_pages_snippet(app, monkeypatch):
    from dashboard.components import export

    job = run_attack(app, 3)
    result, baseline = job.result
    assert "export_report" in {button.key for button in app.get("download_button")}
    app.session_state["attack_snippet"] = True
    app.run()
    code = app.code[0].value
    monkeypatch.setattr(export, "snippet", lambda choices: code)   # the page's choices, as shown
    page = export.report_page(result, baseline, None)
    assert result.baseline is None                     # the job's result is left as it was
    assert '<img src="data:image/png;base64,' in page and "<script" not in page
    assert f"{float(result.metrics['spearman'][0]):.3f}" in page
    assert f"{float(baseline.metrics['spearman'][0]):.3f}" in page   # beside the random sign
    assert code.splitlines()[3] in page                # the dashboard's own snippet


def test_details_summarise_the_mask_that_the_json_export_holds_in_full(app):
    job = run_attack(app, 3)
    mask = job.result[0].config["mask"]
    assert not app.json                       # drawn only once its expander is opened
    app.session_state["attack_details"] = True
    app.run()
    shown = json.loads(app.json[0].value)
    assert shown["mask"] == f"1×64×64 booleans, {int(torch.tensor(mask).sum())} true"
    assert shown["method"] == "gradient" and shown["image_size"] == [64, 64]
    choices = SimpleNamespace(model_key="bundled", sample=None)
    exported = json.loads(export.result_json(*job.result, choices))
    assert exported["config"]["mask"] == mask and torch.tensor(mask).shape == (1, 64, 64)


def test_a_budget_that_ends_during_the_baseline_says_so(monkeypatch):
    monkeypatch.setenv("FRAGILITY_JOB_SECONDS", "1")
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.selectbox(key="method").set_value("integrated-gradients").run()   # slow draws
    set_steps(at, 2000)
    at.run()
    at.button(key="run_attack").click().run()
    job = latest_job(at)
    run_until_done(at)
    assert job.result is None or job.result[0] is None     # the attack itself never started
    # Stopped between two baseline draws, or (on a slow machine) inside one: either way the
    # page says the budget stopped it.
    shown = [w.value for w in at.warning] + [e.value.replace("\\", "") for e in at.error]
    assert [text for text in shown if text.startswith((
        "Stopped during the random-sign baseline because it ran out of its time budget of 1 s, "
        "before the attack started", "Stopped because it ran out of its time budget of 1 s"))], shown


def test_a_photo_under_the_bundled_model_is_warned_about_at_once(app):
    def shape_warnings():
        return [w.value for w in app.warning if "generated shapes" in w.value]

    assert not shape_warnings()                       # a bundled sample: nothing to warn about
    photo = fg.samples("photo")[0]
    app.selectbox(key="image_choice").set_value("Upload your own image").run()
    app.file_uploader(key="image_file").set_value(
        (photo.path.name, photo.path.read_bytes(), "image/jpeg")).run()
    [warning] = shape_warnings()                      # before any Run
    assert "heart" in warning and "Torchvision zoo" in warning
    from fragility.models.zoo import cache_file
    assert cache_file("resnet18").name in warning and str(cache_file("resnet18").parent) in warning
    app.selectbox(key="image_choice").set_value(fg.samples("synthetic")[0].name).run()
    assert not shape_warnings()


def test_the_finished_banner_counts_the_baseline_in_the_wait(app):
    import re
    run_attack(app, 3)
    banner = re.fullmatch(r"Finished 3 steps in ([\d.]+) s \(([\d.]+) s with the random-sign "
                          r"baseline\)\.", app.success[0].value)
    assert banner, app.success[0].value
    assert float(banner[2]) >= float(banner[1])
    app.selectbox(key="attack").set_value("random-sign").run()   # its own baseline: no second run
    run_attack(app, 3)
    assert re.fullmatch(r"Finished 3 steps in [\d.]+ s\.", app.success[0].value), app.success[0].value


def test_the_exported_panel_is_the_command_lines_with_its_metrics_line(app, monkeypatch):
    from fragility import rendering
    drawn = []
    draw = rendering.panel
    monkeypatch.setattr(rendering, "panel",
                        lambda tiles, title="", footer="": drawn.append((title, footer))
                        or draw(tiles, title, footer))
    job = run_attack(app, 3)
    result, baseline = job.result
    [(title, footer)] = drawn
    assert title == f"gradient under top-k, eps 8/255, 3 steps, k = {result.config['k']}"
    spearman = float(result.metrics["spearman"][0])
    assert f"Spearman {spearman:.3f} (random sign {float(baseline.metrics['spearman'][0]):.3f})" in footer


def test_a_direct_link_to_attack_opens_the_attack_page(app):
    root = [info for info in app._registered_pages.values() if info.get("url_pathname") == ""]
    assert len(root) == 1                              # the Attack page stays the default
    assert app.title[0].value == "How fragile is this explanation?"
    open_page(app, "attack")                           # what /attack resolves to
    assert app.title[0].value == "How fragile is this explanation?"
    assert "run_attack" in [button.key for button in app.button]


def test_top_k_is_said_as_a_share_of_the_pixels(app):
    from dashboard.components.choices import top_k_title
    image = torch.zeros(3, 64, 64)
    assert top_k_title(SimpleNamespace(k=82, image=image)) == "Top-82 (2% of the pixels)"
    assert top_k_title(SimpleNamespace(k=5, image=image)) == "Top-5 (0.12% of the pixels)"
    run_attack(app, 2)
    k = latest_job(app).result[0].config["k"]
    specs = [chart.proto.spec for chart in app.get("plotly_chart")]
    assert any(f"Top-{k} ({100 * k / 4096:.2g}% of the pixels) intersection per step" in spec
               for spec in specs)
