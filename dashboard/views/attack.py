"""The attack page: one method, one attack, live progress, the result and its exports."""

from __future__ import annotations

import time

import streamlit as st

import fragility as fg
from fragility import cli_report

from ..components import compute, details, export, figures, live, panels, state
from ..components.choices import Choices, adaptive_note, photo_note, top_k_title
from ..components.failures import escape

K_RANGE = [5, 10, 25, 50, 100, 200, 400, 800, 1600, 3200]


def render(choices: Choices) -> None:
    st.title("How fragile is this explanation?")
    if not choices.ready:
        for message in choices.errors:
            st.error(message)
        return
    method, attack = fg.get_method(choices.method), fg.get_attack(choices.attack)
    st.markdown(f"**{method.title}** under **{attack.title}**, "
                f"ε = {choices.epsilon255:g}/255, {choices.steps} steps")
    if choices.defence:
        st.markdown(adaptive_note(choices))
    if note := photo_note(choices):
        st.warning(note, icon=":material/photo_camera:")
    key = state.config_key(choices.key_parts())
    run_column, note_column, opacity_column = st.columns([1.2, 3, 1.6], vertical_alignment="center")
    opacity = opacity_column.slider("Map opacity over the image", 0.0, 1.0, 0.65, 0.05,
                                    key="opacity")
    if run_column.button("Run attack", icon=":material/play_arrow:", type="primary",
                         key="run_attack", width="stretch"):
        _original(choices)
        state.start_job(key, _work(choices), total=choices.steps)
    job = state.jobs().get(key)
    if job is None:
        note_column.caption("Press **Run attack**: it searches for a change of at most ε per pixel "
                            "that keeps the predicted label but moves the explanation.")
    if job is None:
        _before(choices, opacity)
    elif job.running:
        _live(job, choices, opacity)
    elif job.error:
        state.show_error(job)
    elif job.result is None or job.result[0] is None:
        st.warning(f"Stopped during the random-sign baseline{state.stop_note(job)}, before the "
                   "attack started. Press Run attack again.")
    else:
        _finished(job, choices, opacity)


# ---------------------------------------------------------------- computing (worker thread)

def _work(choices: Choices):
    """The job: the random-sign baseline (cached per session), then the attack."""
    model, images = choices.model, choices.image[None]
    arguments = choices.attack_arguments()
    random_arguments = choices.baseline_arguments()
    baselines = st.session_state.setdefault("baselines", {})
    baseline_key = state.config_key({**choices.key_parts(), **{
        name: state.digest(value) if hasattr(value, "shape") else value
        for name, value in random_arguments.items()}})

    def work(job: state.Job):
        baseline = baselines.get(baseline_key)
        if baseline is None and choices.attack != "random-sign":
            job.phase, job.total = "random-sign baseline", random_arguments["steps"]
            baseline = compute.attack(model, images, **random_arguments,
                                      callback=job.callback(job.baseline_history))
            if baseline.stopped_early:
                return None, baseline
            baselines[baseline_key] = baseline
            job.baseline_ran = True
        elif baseline is not None:
            job.baseline_history = baseline.history
        job.phase, job.step, job.total = "attack", 0, arguments["steps"]
        job.started = time.monotonic()
        result = compute.attack(model, images, **arguments,
                                callback=job.callback(job.history, with_path=True))
        if baseline is None:           # the random-sign attack is its own baseline
            baseline = result
            job.baseline_history = result.history
        job.predictions = (state.predictions(model, images)[0],
                           state.predictions(model, result.perturbed)[0])
        return result, baseline
    return work


def _original(choices: Choices):
    """The original map and prediction, cached per model, image and method."""
    cache = st.session_state.setdefault("originals", {})
    key = _original_key(choices)
    if key not in cache:
        maps = fg.explain(choices.model, choices.image[None], choices.method,
                          **choices.method_options)
        cache[key] = (maps[0], state.predictions(choices.model, choices.image[None])[0])
    return cache[key]


# ---------------------------------------------------------------- drawing

def _label(prediction) -> str:
    name, confidence = prediction
    return f"{name} ({confidence:.0%})"


def _before(choices: Choices, opacity: float) -> None:
    try:
        saliency, prediction = _original(choices)
    except fg.FragilityError as error:
        st.error(escape(str(error)))
        return
    columns = st.columns(6)
    columns[0].image(panels.to_pil(choices.image), caption=f"Original: {_label(prediction)}",
                     width="stretch")
    columns[1].image(panels.overlay(choices.image, saliency, opacity),
                     caption=f"{fg.get_method(choices.method).title} map", width="stretch")
    columns[1].image(panels.colorbar(), caption="low → high saliency", width="stretch")


def _tiles(choices: Choices, original_map, perturbed, perturbed_map, opacity: float,
           before: str, after: str) -> None:
    image = choices.image
    epsilon255 = max(choices.epsilon255, 1e-9)
    tiles = [
        (panels.to_pil(image), f"Original\n{before}"),
        (panels.to_pil(perturbed), f"Perturbed\n{after}"),
        (panels.perturbation(image, perturbed, epsilon255 / 255),
         f"Perturbation ×{127.5 / epsilon255:.0f}\n(grey = 0, ±{choices.epsilon255:g}/255)"),
        (panels.overlay(image, original_map, opacity), "Original map"),
        (panels.overlay(perturbed, perturbed_map, opacity), "Perturbed map"),
    ]
    if choices.parameters.get("target_map") is not None:
        tiles.append((panels.overlay(image, choices.parameters["target_map"], 1.0), "Target map"))
    columns = st.columns(len(tiles))
    for column, (picture, caption) in zip(columns, tiles):
        column.image(picture, caption=caption.replace("\n", " · "), width="stretch")
    columns[-1].image(panels.colorbar(), caption="low → high saliency", width="stretch")


def baseline_name(choices: Choices) -> str:
    """Which random-sign baseline a chart or card shows."""
    arguments = choices.baseline_arguments()
    if arguments.get("draws") == "walk":
        return f"random sign (best of a {arguments['steps']}-step walk)"
    if arguments.get("draws") == "single" or arguments["steps"] <= 1:
        return "random sign (one draw)"
    return f"random sign (best of {arguments['steps']} draws)"


def _charts(job: state.Job, choices: Choices, original_map, k_curves=None) -> None:
    left, right = st.columns(2)
    name = baseline_name(choices)
    left.plotly_chart(figures.per_step(job.history, job.baseline_history, "spearman",
                                       "Spearman rank correlation per step", choices.steps, name),
                      key="chart_spearman", config={"displayModeBar": False})
    right.plotly_chart(figures.per_step(job.history, job.baseline_history, "top_k_intersection",
                                        f"{top_k_title(choices)} intersection per step", choices.steps, name),
                       key="chart_topk", config={"displayModeBar": False})
    left, right = st.columns(2)
    start = tuple(fg.metrics.center_of_mass(original_map[None])[0].tolist())
    left.plotly_chart(figures.center_path(original_map, job.center_path, start),
                      key="chart_center", config={"displayModeBar": False})
    if k_curves is not None:
        right.plotly_chart(figures.over_k(*k_curves, baseline_name=name), key="chart_over_k",
                           config={"displayModeBar": False})


def _live(job: state.Job, choices: Choices, opacity: float) -> None:
    def content():
        original = _cached_original(choices)
        if original is None:
            return
        original_map, prediction = original
        snapshot = job.snapshot
        if snapshot is None:    # before the first step: the original stands in
            perturbed, perturbed_map, note = choices.image, original_map, "starting…"
        else:
            perturbed, perturbed_map = snapshot["perturbed"][0], snapshot["perturbed_maps"][0]
            note = f"best so far (step {snapshot['step']})"
        _tiles(choices, original_map, perturbed, perturbed_map, opacity, _label(prediction), note)
        _charts(job, choices, original_map)
    live.show(job, "stop_attack", live.steps_text, content)


def _cached_original(choices: Choices):
    """(map, prediction) if already computed: the live view must not wait for the model."""
    return st.session_state.get("originals", {}).get(_original_key(choices))


def _original_key(choices: Choices) -> str:
    return state.config_key({"model": choices.model_key, "image": choices.image_key,
                             "method": choices.method, "options": choices.method_options})


def finished_text(job: state.Job, steps: int) -> str:
    """The banner of a finished attack: its steps' time, and the whole wait if a baseline ran."""
    text = f"Finished {steps} steps in {job.elapsed():.1f} s"
    if job.baseline_ran:
        text += f" ({job.whole_time():.1f} s with the random-sign baseline)"
    return text + "."


def _finished(job: state.Job, choices: Choices, opacity: float) -> None:
    result, baseline = job.result
    if result.stopped_early:
        st.warning(f"Stopped after {result.steps_run} of {choices.steps} steps"
                   f"{state.stop_note(job)}: showing the best perturbation found so far.")
    else:
        st.success(finished_text(job, result.steps_run))
    before, after = job.predictions
    original_map, perturbed_map = result.original_maps[0], result.perturbed_maps[0]
    _tiles(choices, original_map, result.perturbed[0], perturbed_map, opacity,
           _label(before), _label(after))
    if not bool(result.found[0]):
        st.warning(f"No label-keeping perturbation found in {result.steps_run} steps: every step "
                   "changed the predicted label, so the tiles show the original image and map and "
                   "there are no metrics to report. Try a smaller ε or step size, or more steps.")
        _exports(job, choices, opacity)
        return
    _cards(result, baseline, baseline_name(choices))
    pixels = original_map.numel()
    ks = sorted({k for k in K_RANGE if k <= pixels} | {choices.k})
    curve = [float(fg.metrics.top_k_intersection(result.original_maps, result.perturbed_maps, k)[0])
             for k in ks]
    random_curve = [float(fg.metrics.top_k_intersection(baseline.original_maps,
                                                        baseline.perturbed_maps, k)[0])
                    for k in ks]
    _charts(job, choices, original_map, (ks, curve, random_curve))
    _exports(job, choices, opacity)
    with details.expander("Details: configuration and surrogate", "attack_details") as box:
        if box.open:
            st.markdown(f"Differentiated through: {result.surrogate}")
            st.caption("Arrays longer than a few values are summarised here; the JSON export "
                       "holds them in full.")
            details.show(result.config)


def _cards(result, baseline, baseline_label: str) -> None:
    def value(metrics, name):
        return float(metrics[name][0])

    attack, random, floor = result.metrics, baseline.metrics, result.noise_floor

    def reference(name, form):
        text = f"random sign: {form.format(value(random, name))}"
        if floor is not None:
            text += f" · noise floor: {form.format(value(floor, name))}"
        return text

    noise = (" The noise floor is the same method on the unperturbed image with fresh noise: "
             "what this number shows with no attack at all." if floor is not None else "")
    cards = [
        ("Spearman ρ", f"{value(attack, 'spearman'):.2f}", reference("spearman", "{:.2f}"),
         "Spearman rank correlation of the two maps: 1 = same ranking of pixels. Below it, "
         f"the {baseline_label}." + noise),
        ("Top-k intersection", f"{value(attack, 'top_k_intersection'):.0%}",
         reference("top_k_intersection", "{:.0%}"),
         "share of the k most salient pixels still among the k most salient." + noise),
        ("Center shift", f"{value(attack, 'center_shift'):.1f} px", reference("center_shift", "{:.1f} px"),
         "how far the map's center of mass moved." + noise),
        ("Label kept", "yes" if bool(result.labels_kept[0]) else "no",
         f"random sign: {'yes' if bool(baseline.labels_kept[0]) else 'no'}",
         "the attack only accepts changes that keep the predicted label"),
    ]
    if "faithfulness_spearman" in attack:
        cards.append(("Defence faithfulness", f"{value(attack, 'faithfulness_spearman'):.2f}",
                      f"top-k: {value(attack, 'faithfulness_top_k_intersection'):.0%}",
                      "Spearman between the defended and the undefended map of the original "
                      "image: what the defence costs in faithfulness (1 = no change)"))
    if "mass_in_mask_after" in attack:
        cards.append((f"On the object (was {value(attack, 'mass_in_mask_before'):.0%})",
                      f"{value(attack, 'mass_in_mask_after'):.0%}",
                      f"random sign: {value(random, 'mass_in_mask_after'):.0%}",
                      "share of the saliency map on the object's mask, after the attack "
                      "(before it, in brackets)"))
    for column, (label, shown, reference, help_text) in zip(st.columns(len(cards)), cards):
        column.metric(label, shown, delta=reference, delta_color="off", delta_arrow="off",
                      help=help_text, border=True)


def _exports(job: state.Job, choices: Choices, opacity: float) -> None:
    result, baseline = job.result
    st.subheader("Export")
    # the command line's panel: the same tiles, title and metrics line
    picture = cli_report.attack_panel(choices.model, choices.image, result, baseline, opacity)
    columns = st.columns(6)
    columns[0].download_button("Perturbed image (PNG)",
                               panels.png_bytes(panels.to_pil(result.perturbed[0],
                                                              size=result.perturbed.shape[-1])),
                               file_name="perturbed.png", mime="image/png", key="export_png",
                               on_click="ignore")
    columns[1].download_button("Side-by-side panel (PNG)",
                               panels.png_bytes(picture),
                               file_name="panel.png", mime="image/png", key="export_panel",
                               on_click="ignore")
    columns[2].download_button("Per-step CSV", export.history_csv(job.history, job.baseline_history),
                               file_name="steps.csv", mime="text/csv", key="export_csv",
                               on_click="ignore")
    columns[3].download_button("Config and metrics (JSON)",
                               export.result_json(result, baseline, choices),
                               file_name="run.json", mime="application/json", key="export_json",
                               on_click="ignore")
    code = export.snippet(choices)
    columns[4].download_button("Python snippet", code, file_name="reproduce.py",
                               mime="text/x-python", key="export_snippet", on_click="ignore")
    # drawn when clicked: the charts take seconds to render as PNG
    columns[5].download_button("Report (HTML)", lambda: export.report_page(result, baseline, choices),
                               file_name="report.html", mime="text/html", key="export_report",
                               on_click="ignore")
    with details.expander("Reproduce this run in Python", "attack_snippet") as box:
        if box.open:
            st.code(code, language="python")
