"""The influence page through Streamlit's AppTest: its numbers are the API's numbers."""

from __future__ import annotations

import json

import torch
from streamlit.testing.v1 import AppTest

import fragility as fg
from app_driver import latest_job, open_page, run_until_done, wait_for_step
from dashboard.components import state
from dashboard.views import influence

TRAIN = 60      # training images scored in these tests (the page's default is 200)
HESSIAN = 100   # training images of the Hessian in these tests (the page's default is 2048)


def open_influence_page(at: AppTest) -> AppTest:
    return open_page(at, "influence")


def run_influence(at: AppTest, steps: int, train: int = TRAIN, single_step: bool = False):
    at.number_input(key="steps").set_value(steps)
    open_influence_page(at)
    at.number_input(key="influence_train").set_value(train)
    at.number_input(key="influence_hessian").set_value(HESSIAN)
    if single_step:
        at.radio(key="influence_form").set_value(influence.FORMS[1])
    at.run()
    at.button(key="run_influence").click().run()
    job = latest_job(at)
    run_until_done(at)
    assert not at.exception, [e.value for e in at.exception]
    return job


def sample_image(at: AppTest) -> torch.Tensor:
    name = at.selectbox(key="image_choice").value
    return next(s for s in fg.samples("synthetic") if s.name == name).load(size=64)


def captions(at: AppTest) -> list[str]:
    return [caption for image in at.main.get("image") for caption in image.captions]


def metric_values(at: AppTest) -> dict[str, tuple[str, str]]:
    return {metric.label: (metric.value, metric.delta) for metric in at.metric}


def test_page_is_in_the_navigation_and_explains_influence(app):
    open_influence_page(app)
    text = " ".join(m.value for m in app.markdown)
    assert "Understanding Black-box Predictions via Influence Functions" in text and "helpful" in text
    assert any("What is approximated" in caption.value for caption in app.caption)
    assert app.number_input(key="influence_hessian").value == fg.data.DEFAULT_HESSIAN_IMAGES
    assert app.number_input(key="influence_train").value == 200
    assert app.number_input(key="influence_k").value == 5
    assert any(caption.startswith("Test image: ") for caption in captions(app))
    assert not app.error


def test_run_shows_the_apis_metrics_beside_random_sign_and_the_strips(app):
    job = run_influence(app, steps=8)
    result = job.result
    train, labels = fg.training_set("bundled", n=TRAIN)
    sample = fg.data.hessian_sample("bundled", n=HESSIAN)
    expected = fg.influence_attack(state.named_model("bundled"), sample_image(app)[None], train, labels,
                                   epsilon=8 / 255, steps=8, step_size=1 / 255, k=5, seed=0,
                                   hessian_images=sample)
    for name in expected.metrics:
        torch.testing.assert_close(result.metrics[name], expected.metrics[name])
        torch.testing.assert_close(result.baseline.metrics[name], expected.baseline.metrics[name])
    assert app.success[0].value.startswith("Finished 8 steps and 8 random-sign draws")

    assert bool(expected.found[0])
    shown = metric_values(app)
    overlap = float(expected.metrics["top_k_intersection"][0])
    random_overlap = float(expected.baseline.metrics["top_k_intersection"][0])
    assert shown["Top-5 intersection"] == (f"{overlap:.0%}", f"random sign: {random_overlap:.0%}")
    assert shown["Spearman ρ"][0] == f"{float(expected.metrics['spearman'][0]):.2f}"
    assert shown["Label kept"] == ("yes", "random sign: yes")
    torch.testing.assert_close(result.damping_sensitivity["tenfold"], expected.damping_sensitivity["tenfold"])
    note = next(m.value for m in app.markdown if m.value.startswith("**Damping sensitivity.**"))
    assert note == influence.damping_note(expected)
    assert f"at 10λ: **{float(expected.damping_sensitivity['tenfold'][0]):.2f}**" in note

    # the strips: the 5 most helpful and most harmful, before and after, with their scores
    before, after = expected.original_scores[0], expected.perturbed_scores[0]
    names = state.named_model("bundled").labels
    shown_captions = captions(app)
    for index in before.topk(5).indices.tolist() + (-before).topk(5).indices.tolist():
        assert f"#{index} {names[int(labels[index])]} · {float(before[index]):+.3g}" in shown_captions
    helpful_after = after.topk(5).indices.tolist()
    original_top = before.topk(5).indices.tolist()
    for index in helpful_after:
        moved = f" · was #{original_top.index(index) + 1}" if index in original_top else " · new"
        assert f"#{index} {names[int(labels[index])]} · {float(after[index]):+.3g}{moved}" in shown_captions
    assert any(caption.startswith("Perturbed: ") for caption in shown_captions)
    charts = [chart.proto.spec for chart in app.get("plotly_chart")]
    assert any("Top-5 intersection of the most helpful" in spec for spec in charts)
    assert any("random sign" in spec for spec in charts)

    assert not app.json                      # the details are drawn once their expander opens
    app.session_state["influence_details"] = True
    app.run()
    assert json.loads(app.json[0].value)["steps"] == 8
    assert any(m.value.startswith("Differentiated through: ") for m in app.markdown)


def test_the_papers_single_step_is_offered(app):
    job = run_influence(app, steps=30, single_step=True)
    result = job.result
    assert result.steps_run == 1 and result.config["steps"] == 1
    assert result.config["step_size"] == result.config["epsilon"] == 8 / 255
    assert app.success[0].value.startswith("Finished 1 steps and 1 random-sign draws")


def test_stop_keeps_the_best_so_far(app):
    app.number_input(key="steps").set_value(1000)
    open_influence_page(app)
    app.number_input(key="influence_train").set_value(TRAIN)
    app.number_input(key="influence_hessian").set_value(HESSIAN).run()
    app.button(key="run_influence").click().run()
    job = latest_job(app)
    wait_for_step(job, 2)
    app.run()
    app.button(key="stop_influence").click().run()
    run_until_done(app)
    result = job.result
    assert result.stopped_early and 2 <= result.steps_run < 1000
    assert result.baseline.steps_run == result.steps_run
    assert any(w.value.startswith(f"Stopped after {result.steps_run} of 1000 steps") for w in app.warning)
    charts = [chart.proto.spec for chart in app.get("plotly_chart")]
    assert charts and all("random sign" in spec for spec in charts)    # the baseline ran after the Stop


def test_nothing_found_says_so_instead_of_metric_cards(app, monkeypatch):
    from dashboard.views import influence

    def no_room(*args, **kwargs):   # an empty ball: no iterate can lower the influence
        return fg.influence_attack(*args, **{**kwargs, "epsilon": 0.0})
    monkeypatch.setattr(influence, "ATTACK", no_room)
    job = run_influence(app, steps=3)
    assert not bool(job.result.found[0])
    assert any(w.value.startswith("No label-keeping perturbation found in 3 steps") for w in app.warning)
    assert not metric_values(app)


def test_a_failing_run_is_an_error_in_place(app, monkeypatch):
    from dashboard.views import influence

    def broken(*args, **kwargs):
        raise fg.ConfigError("k (number of top features) must be <= 3")
    monkeypatch.setattr(influence, "ATTACK", broken)
    run_influence(app, steps=3)
    assert any("must be <= 3" in e.value for e in app.error)


def test_another_model_is_told_that_only_the_bundled_training_data_is_known(app, monkeypatch):
    bundled = state.named_model("bundled")
    monkeypatch.setattr(state, "named_model", lambda name: bundled)   # a zoo model, offline
    app.radio(key="model_source").set_value("Torchvision zoo").run()
    open_influence_page(app)
    assert any("only the bundled model's is known" in info.value for info in app.info)
    assert not app.error
