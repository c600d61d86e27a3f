"""A section of the sanity-check page: Adebayo et al.'s data randomisation test.

Every method explains the same image on the bundled model, on its twin trained on
shuffled labels and on the control (the twin's recipe on the true labels, another seed);
a method whose maps are no less alike on the shuffled twin than on the control does not
show what the labels taught.
"""

from __future__ import annotations

import streamlit as st

import fragility as fg

from ..components import details, figures, live, panels, state
from ..components.choices import Choices

TRAINED, SHUFFLED, CONTROL = "bundled", "bundled-shuffled", "bundled-control"
FLOOR = "control (true labels, another seed)"


def render(choices: Choices, target: int | None) -> None:
    st.subheader("Data randomisation: the same network trained on shuffled labels")
    if choices.model_key != TRAINED:
        st.info("This test needs a twin of the model trained on shuffled labels; fragility ships "
                "one for the bundled model. Choose **Bundled (offline)** in the sidebar.")
        return
    trained_info, shuffled_info = fg.checkpoint_info(TRAINED), fg.checkpoint_info(SHUFFLED)
    control_info = fg.checkpoint_info(CONTROL)
    st.markdown(
        "The second network has the bundled model's architecture but was trained on "
        f"{shuffled_info['train_images']} generated images whose labels were randomly "
        f"permuted: it fits them ({float(shuffled_info['train_accuracy']):.0%} on its "
        f"training set) by memorising, and knows nothing about shapes "
        f"({float(shuffled_info['held_out_accuracy']):.1%} on fresh images, chance is 10%; "
        f"the trained model: {float(trained_info['accuracy']):.2%}). Two networks trained on "
        "the true labels do not give identical maps either, so the third network is the "
        "control: the shuffled network's recipe and images with their **true** labels, another "
        f"seed ({float(control_info['train_accuracy']):.0%} on its training set, "
        f"{float(control_info['held_out_accuracy']):.1%} on fresh images). All explain the same "
        "class. **A method passes when its maps on the shuffled network are less like the "
        "trained network's than the control's are.**")
    methods = fg.methods()
    key = state.config_key({"page": "data-randomization", "image": choices.image_key,
                            "method": choices.method, "options": choices.method_options,
                            "target": target})
    if st.button("Compare every method", icon=":material/compare:", type="primary",
                 key="run_data_randomization"):
        state.start_job(key, _work(choices, target), total=len(methods))
    job = state.jobs().get(key)
    opacity = st.session_state.get("opacity", 0.65)
    if job is None:
        st.caption(f"Press **Compare every method**: {len(methods)} methods, each on both "
                   "networks, with the sidebar's options for the selected method.")
    elif job.running:
        _live(job, choices, opacity)
    elif job.error:
        st.error(job.error)
    else:
        _finished(job, choices, opacity)


def _work(choices: Choices, target: int | None):
    model, images = choices.model, choices.image[None]
    shuffled, control = state.named_model(SHUFFLED), state.named_model(CONTROL)
    options = {choices.method: dict(choices.method_options)}

    def work(job: state.Job):
        job.phase = "explaining"
        record = job.callback(job.history)

        def callback(index: int, row: dict) -> bool:
            job.partial.append((row["original_maps"][0].detach().cpu(),
                                row["shuffled_maps"][0].detach().cpu(),
                                row["control_maps"][0].detach().cpu()))
            return record(index, row)
        return fg.data_randomization(model, shuffled, images, target=target,
                                     method_options=options, callback=callback, control_model=control)
    return work


def _live(job: state.Job, choices: Choices, opacity: float) -> None:
    def content():
        count = len(job.history)
        rows = job.history[:count]
        _tiles(choices, [row["method"] for row in rows], list(job.partial[:count]), opacity)
        if rows:
            _chart(rows, k=None)
    live.show(job, "stop_data_randomization",
              lambda job: f"{job.phase}: method {job.step} of {job.total}", content)


def _finished(job: state.Job, choices: Choices, opacity: float) -> None:
    result: fg.DataRandomizationResult = job.result
    if result.stopped_early:
        st.warning(f"Stopped after {len(result.methods)} of {job.total} methods: showing those.")
    else:
        st.success(f"Compared {len(result.methods)} methods in {job.elapsed():.1f} s.")
    maps = [(result.original_maps[name][0], result.shuffled_maps[name][0], result.control_maps[name][0])
            for name in result.methods]
    _tiles(choices, result.methods, maps, opacity)
    rows = [{"method": name, **{metric: value.tolist() for metric, value in result.metrics[name].items()},
             "control": {metric: value.tolist() for metric, value in result.control_metrics[name].items()},
             "noise_floor": {metric: value.tolist() for metric, value in result.noise_floor[name].items()}}
            for name in result.methods]
    k = result.config["k"]
    _chart(rows, k)
    st.markdown(verdict(result))
    with details.expander("Values per method and configuration",
                          "data_randomization_details") as box:
        if box.open:
            _values(rows, k)
            details.show(result.config)


def verdict(result: fg.DataRandomizationResult) -> str:
    """On this image, which methods' maps are less alike on the shuffled network than on the
    control (Spearman); the verdict needs many images."""
    gaps = result.control_gap("spearman")
    lower = [fg.get_method(name).title for name in result.methods if float(gaps[name][0]) > 0]
    higher = [fg.get_method(name).title for name in result.methods if not float(gaps[name][0]) > 0]
    return (f"On this image the shuffled network's maps are less like the trained network's than "
            f"the control's (Spearman) for: {', '.join(lower) or 'none'}; not for: "
            f"{', '.join(higher) or 'none'}. One image decides little: `fragility data-randomization` "
            "runs the 20 samples and counts a method as passing only when the gap is more than two "
            "standard errors.")


def _values(rows: list[dict], k: int) -> None:
    table = []
    for row in rows:
        entry = {"method": fg.get_method(row["method"]).title}
        for metric in figures.SANITY_METRICS:
            entry[figures.sanity_title(metric, k)] = row[metric][0]
            entry[f"{figures.sanity_title(metric, k)}: control"] = row["control"][metric][0]
            entry[f"{figures.sanity_title(metric, k)}: noise floor"] = row["noise_floor"][metric][0]
        table.append(entry)
    st.dataframe(table, hide_index=True, key="data_randomization_table")


def _tiles(choices: Choices, methods: list[str], maps: list, opacity: float) -> None:
    """Three rows of maps, one column per method: trained network, shuffled, control."""
    if not methods:
        return
    image = choices.image
    columns = st.columns(len(fg.methods()))
    for column, name, (trained, shuffled, control) in zip(columns, methods, maps):
        title = fg.get_method(name).title
        column.image(panels.overlay(image, trained, opacity), caption=f"{title} · trained",
                     width="stretch")
        column.image(panels.overlay(image, shuffled, opacity), caption=f"{title} · shuffled labels",
                     width="stretch")
        column.image(panels.overlay(image, control, opacity), caption=f"{title} · control",
                     width="stretch")


def _chart(rows: list[dict], k: int | None) -> None:
    methods = [fg.get_method(row["method"]).title for row in rows]
    values = {metric: [row[metric][0] for row in rows] for metric in figures.SANITY_METRICS}
    floors = {metric: [row["control"][metric][0] for row in rows] for metric in figures.SANITY_METRICS}
    st.plotly_chart(figures.per_method(methods, values, floors, k, floor_name=FLOOR),
                    key="chart_data_randomization", config={"displayModeBar": False})
    st.caption("Bars: similarity of each method's map on the trained and on the shuffled-label "
               "network (1 = the same map). Grey ticks: the control, the same similarity between "
               "the trained network and one trained by the shuffled network's recipe on the true "
               "labels; **a method that passes has bars below its ticks**. (The noise floor, the "
               "method on the trained network again, is in the table: 1 for the deterministic "
               "methods, below 1 for SmoothGrad.)")
