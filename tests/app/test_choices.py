"""The sidebar is generated from the declared parameters: every widget reaches the attack."""

from __future__ import annotations

import json

import pytest
import torch
from streamlit.testing.v1 import AppTest

import fragility as fg
from app_driver import latest_job, open_page, run_until_done
from dashboard.components import compute


def run_attack(at: AppTest, steps: int = 2):
    at.number_input(key="steps").set_value(steps)
    at.run()
    at.button(key="run_attack").click().run()
    job = latest_job(at)
    run_until_done(at)
    assert not at.exception and not at.error, [e.value for e in at.error]
    return job


def other_value(parameter: fg.Parameter):
    """A valid value other than the default, as the widget shows it (scaled)."""
    if parameter.kind == "choice":
        return next(choice for choice in parameter.choices if choice != parameter.default)
    if parameter.kind == "bool":
        return not parameter.default
    if parameter.kind == "text":
        return "0"                      # the bundled model's first convolution
    if parameter.kind == "int":
        return {"steps": 3, "samples": 3, "batch_size": 8, "seed": 5, "k": 40}.get(parameter.name, 3)
    return round(parameter.default * parameter.scale * 0.5, 4)


def set_widget(at: AppTest, key: str, parameter: fg.Parameter, value) -> None:
    if parameter.kind == "choice":
        at.selectbox(key=key).set_value(value)
    elif parameter.kind == "bool":
        at.checkbox(key=key).set_value(value)
    elif parameter.kind == "text":
        at.text_input(key=key).set_value(value)
    elif parameter.name == "epsilon":
        at.slider(key=key).set_value(value)
    else:
        at.number_input(key=key).set_value(value)


def api_value(parameter: fg.Parameter, shown):
    return shown / parameter.scale if parameter.kind == "float" else shown


@pytest.mark.parametrize("method", [m for m in fg.methods() if fg.get_method(m).parameters])
def test_every_method_option_reaches_the_attack(app, method):
    app.selectbox(key="method").set_value(method).run()
    expected = {}
    for parameter in fg.get_method(method).parameters:
        value = other_value(parameter)
        set_widget(app, f"option:{method}:{parameter.name}", parameter, value)
        expected[parameter.name] = api_value(parameter, value)
    app.run()
    job = run_attack(app, 1)
    options = job.result[0].config["method_options"]
    for name, value in expected.items():
        assert options[name] == pytest.approx(value) if isinstance(value, float) else options[name] == value


@pytest.mark.parametrize("attack", fg.attacks())
def test_every_attack_parameter_reaches_the_attack(app, attack):
    app.selectbox(key="attack").set_value(attack).run()
    expected = {}
    for parameter in fg.get_attack(attack).parameters:
        if parameter.kind in ("mask", "map") or parameter.name == "steps":
            continue
        value = other_value(parameter)
        if parameter.name == "criterion":
            value = "mass-center"
        set_widget(app, parameter.name, parameter, value)
        expected[parameter.name] = api_value(parameter, value)
    app.run()
    job = run_attack(app, 2)
    config = job.result[0].config
    for name, value in expected.items():
        assert config[name] == pytest.approx(value), name


def test_the_paper_preset_sets_the_paper_values(app):
    app.selectbox(key="method").set_value("integrated-gradients").run()
    app.number_input(key="option:integrated-gradients:steps").set_value(7).run()
    app.button(key="preset_paper").click().run()
    assert app.number_input(key="steps").value == 300
    assert app.number_input(key="step_size").value == 0.5
    assert app.slider(key="epsilon").value == 8
    assert app.number_input(key="k").value == round(0.02 * 64 * 64)
    assert app.number_input(key="option:integrated-gradients:steps").value == 100


def test_the_paper_preset_runs_an_attack_on_the_page(app):
    app.selectbox(key="method").set_value("integrated-gradients").run()
    app.number_input(key="k").set_value(7).run()
    app.button(key="preset_paper").click().run()
    app.number_input(key="option:integrated-gradients:steps").set_value(4).run()
    config = run_attack(app, 1).result[0].config
    assert config["k"] == round(0.02 * 64 * 64) and config["step_size"] == pytest.approx(0.5 / 255)
    assert config["epsilon"] == pytest.approx(8 / 255) and config["method_options"]["steps"] == 4


def test_a_chosen_class_is_explained(app):
    labels = fg.load_model("bundled").labels
    app.selectbox(key="target_class").set_value(3).run()
    job = run_attack(app, 1)
    result = job.result[0]
    assert result.config["target"] == [3] and labels[3] in app.selectbox(key="target_class").format_func(3)
    sample = fg.samples("synthetic")[0].load(size=64)
    expected = fg.explain(fg.load_model("bundled"), sample[None], "gradient", target=3)
    torch.testing.assert_close(result.original_maps.cpu(), expected)


def test_a_defence_adds_its_faithfulness_card(app):
    app.selectbox(key="defence").set_value("beta-smoothing").run()
    app.number_input(key="defence:beta-smoothing:beta").set_value(2.0).run()
    job = run_attack(app, 2)
    result = job.result[0]
    assert result.config["defence"] == "beta-smoothing"
    assert result.config["method_options"]["defence_beta"] == 2.0
    cards = {metric.label: metric.value for metric in app.metric}
    assert cards["Defence faithfulness"] == f"{float(result.metrics['faithfulness_spearman'][0]):.2f}"


def test_smoothgrad_cards_show_the_noise_floor(app):
    app.selectbox(key="method").set_value("smoothgrad").run()
    app.number_input(key="option:smoothgrad:samples").set_value(4).run()
    job = run_attack(app, 2)
    floor = job.result[0].noise_floor
    deltas = {metric.label: metric.delta for metric in app.metric}
    assert f"noise floor: {float(floor['spearman'][0]):.2f}" in deltas["Spearman ρ"]
    assert "random sign: " in deltas["Spearman ρ"]


def test_target_map_attack_shows_its_target_and_takes_gamma(app):
    app.selectbox(key="attack").set_value("target-map").run()
    app.number_input(key="gamma").set_value(3.0).run()
    job = run_attack(app, 2)
    assert job.result[0].config["gamma"] == 3.0
    captions = [c for image in app.main.get("image") for c in image.captions]
    assert "Target map" in captions


def test_no_label_keeping_perturbation_is_said_instead_of_cards(app, monkeypatch):
    real = compute.attack

    def nothing_found(*args, **kwargs):
        result = real(*args, **kwargs)
        if kwargs.get("attack") == "top-k":
            result.found = torch.zeros_like(result.found)
        return result

    monkeypatch.setattr(compute, "attack", nothing_found)
    run_attack(app, 2)
    assert any(w.value.startswith("No label-keeping perturbation found in 2 steps") for w in app.warning)
    assert "Spearman ρ" not in [metric.label for metric in app.metric]


def test_the_baseline_is_named_on_the_charts(app):
    run_attack(app, 3)
    names = [trace for chart in app.get("plotly_chart") for trace in
             json.loads(chart.proto.spec)["data"] if trace.get("name")]
    assert any(trace["name"] == "random sign (best of 3 draws)" for trace in names)


def test_compare_ranks_by_the_effect_beyond_chance(app):
    open_page(app, "compare")
    app.number_input(key="compare_steps").set_value(2).run()
    app.button(key="run_compare").click().run()
    job = latest_job(app)
    run_until_done(app, timeout=900)
    assert not app.exception and not app.error, [e.value for e in app.error]
    rows = job.result
    assert [row["method"] for row in rows] == fg.methods()
    for row in rows:
        result, baseline, _ = row["plain"]
        assert baseline.config["attack"] == "random-sign" and baseline.config["criterion"] == "top-k"
        assert baseline.config["epsilon"] == result.config["epsilon"] and baseline.config["steps"] == 2
        assert result.config["method"] == baseline.config["method"] == row["method"]
    table = app.dataframe[0].value
    # ranked by the mean of the Spearman and top-k gaps (the default), missing gaps last
    gaps = list(table["ranked by: mean of both gaps"])
    top_k = next(column for column in table.columns if column.startswith("beyond chance (Δ top-"))
    assert gaps == pytest.approx(list((table["beyond chance (Δ Spearman)"] + table[top_k]) / 2), nan_ok=True)
    known = [gap for gap in gaps if gap == gap]
    assert known == sorted(known, reverse=True) and gaps[:len(known)] == known
    app.radio(key="compare_rank").set_value("spearman").run()
    table = app.dataframe[0].value
    known = [gap for gap in table["beyond chance (Δ Spearman)"] if gap == gap]
    assert known == sorted(known, reverse=True)


def test_compare_gives_each_method_its_own_target_map(app):
    app.selectbox(key="attack").set_value("target-map").run()
    open_page(app, "compare")
    app.number_input(key="compare_steps").set_value(1).run()
    app.button(key="run_compare").click().run()
    job = latest_job(app)
    run_until_done(app, timeout=900)
    target = fg.get_sample(app.session_state["target_sample"]).load(size=64)
    model = fg.load_model("bundled")
    for row in job.result[:3]:
        expected = fg.explain(model, target[None], row["method"])[0]
        torch.testing.assert_close(row["plain"][2].cpu(), expected)
        config_map = torch.tensor(row["plain"][0].config["target_map"])[0]
        torch.testing.assert_close(config_map, (expected / expected.sum()).double(), check_dtype=False)


def test_compare_says_what_each_method_costs_before_it_runs(app):
    from types import SimpleNamespace

    from dashboard.views import compare
    open_page(app, "compare")
    [note] = [c.value for c in app.caption if c.value.startswith("Cost per attack step")]
    assert "Integrated gradients 100" in note and "SmoothGrad 50" in note
    assert f"150 of the {150 + len(fg.methods()) - 2} passes" in note
    chosen = SimpleNamespace(method="smoothgrad", method_options={"samples": 10})
    assert "SmoothGrad 10" in compare.cost_note(chosen, fg.methods())


def test_compare_time_left_weighs_the_methods_by_their_cost():
    from types import SimpleNamespace

    from dashboard.views import compare
    chosen = SimpleNamespace(method="gradient", method_options={})
    names = ["gradient", "smoothgrad", "integrated-gradients"]
    job = SimpleNamespace(partial=[], whole_time=lambda: 2.0)
    assert compare.time_left_text(job, chosen, names) == ""
    job.partial = [{"method": "gradient"}]          # 1 pass of 151 in 2 s: 150 left
    assert compare.time_left_text(job, chosen, names) == " · about 300 s left"
