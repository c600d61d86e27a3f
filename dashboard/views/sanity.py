"""The sanity-check page: does the map change when the network's weights are randomised?"""

from __future__ import annotations

import streamlit as st

import fragility as fg

from ..components import details, figures, live, panels, state
from ..components.choices import Choices
from . import data_randomization

PER_ROW = 8             # map tiles per row
SHOWN_STEPS = PER_ROW - 1   # steps shown beside the original unless every layer is asked for
SANITY_PAPER = ("Adebayo, Gilmer, Muelly, Goodfellow, Hardt & Kim, *Sanity Checks for Saliency "
                "Maps*, NeurIPS 2018 ([arXiv:1810.03292](https://arxiv.org/abs/1810.03292))")
MODES = {   # name -> (title, what each tile's network has random)
    "cascading": ("Cascading", "every layer from the logits down to the named one"),
    "independent": ("Independent", "only the named layer"),
}
RUNS = {"cascading": fg.cascading_randomization, "independent": fg.independent_randomization}
INITS = {"default": "PyTorch's init of each layer", "truncated-normal": "Truncated normal (Adebayo et al.)"}
INIT_HELP = ("PyTorch's init: each layer's own default (Kaiming-uniform convolutions and "
             "linear layers); BatchNorm gets a random scale and shift from U(-1, 1). Truncated "
             "normal: every parameter from N(0, 0.1²) cut at two standard deviations, as in "
             "Adebayo et al.'s code. Either way BatchNorm keeps its trained running statistics.")


def render(choices: Choices) -> None:
    st.title("Does the explanation depend on the network?")
    st.markdown(
        f"Two sanity checks from {SANITY_PAPER}. **Model randomisation**: replace the trained "
        "weights by random ones, layer by layer from the logits down, and explain the same "
        "image again. A map that explains the network must change as the network is "
        "destroyed. **If the map barely changes when the weights are random, it shows the "
        "image (edges, contrast), not what the network learned.** *Cascading* randomises one "
        "more layer at each step; *independent* randomises one layer at a time, the others "
        "keeping their weights. **Data randomisation** (below): the same network trained on "
        "shuffled labels must explain differently.")
    if not choices.ready:
        for message in choices.errors:
            st.error(message)
        return
    target = _explained_class(choices)
    mode_column, init_column, seed_column, run_column, all_column = st.columns(
        [2.2, 2.2, 1.3, 1.1, 1.5], vertical_alignment="bottom")
    mode = mode_column.radio("Randomisation", list(MODES), horizontal=True, key="sanity_mode",
                             format_func=lambda name: MODES[name][0])
    init = init_column.selectbox("Random weights", list(INITS), key="sanity_init",
                                 format_func=INITS.get, help=INIT_HELP)
    seed = int(seed_column.number_input("Seed of the random weights", 0, 2**31 - 1, 0,
                                        key="sanity_seed"))
    every_layer = all_column.toggle("Show every layer", key="sanity_every_layer")
    key = state.config_key({"page": "sanity", "model": choices.model_key,
                            "image": choices.image_key, "method": choices.method,
                            "options": choices.method_options, "mode": mode, "seed": seed,
                            "init": init, "target": target})
    if run_column.button("Run", icon=":material/play_arrow:", type="primary", key="run_sanity",
                         width="stretch"):
        state.start_job(key, _work(choices, mode, seed, init, target), total=_layer_count(choices))
    job = state.jobs().get(key)
    opacity = st.session_state.get("opacity", 0.65)
    method = fg.get_method(choices.method).title
    if job is None:
        st.caption(f"Press **Run**: {_layer_count(choices)} layers with weights, "
                   f"one {method} map per randomised layer.")
    elif job.running:
        _live(job, choices, mode, opacity, every_layer)
    elif job.error:
        state.show_error(job)
    else:
        _finished(job, choices, mode, opacity, every_layer)
    st.divider()
    data_randomization.render(choices, target)


def _explained_class(choices: Choices) -> int | None:
    """The sidebar's class to explain, said on the page with the network's own prediction."""
    predicted, confidence = fg.predict(choices.model, choices.image[None])
    predicted_name = choices.model.label_name(int(predicted[0]))
    if choices.target is None:
        explained = f"the predicted class, **{predicted_name}** ({float(confidence[0]):.0%})"
    else:
        explained = (f"class **{choices.target}: {choices.model.label_name(choices.target)}** "
                     f"(the network predicts {predicted_name}, {float(confidence[0]):.0%})")
    st.markdown(f"Every map on this page explains {explained}; choose another in the "
                "sidebar's **Class to explain**.")
    return choices.target


def _layer_count(choices: Choices) -> int:
    return len(fg.parameterised_layers(choices.model))


# ---------------------------------------------------------------- computing (worker thread)

def _work(choices: Choices, mode: str, seed: int, init: str, target: int | None):
    model, images = choices.model, choices.image[None]
    options = dict(choices.method_options)

    def work(job: state.Job):
        job.phase = "original map"
        job.snapshot = {"original": fg.explain(model, images, choices.method, target=target,
                                               **options)[0]}
        job.phase = f"{mode} randomisation"
        record = job.callback(job.history)

        def callback(step: int, row: dict) -> bool:
            job.partial.append(row["maps"][0].detach().cpu())
            return record(step, row)
        return RUNS[mode](model, images, choices.method, seed=seed, method_options=options,
                          callback=callback, target=target, init=init)
    return work


# ---------------------------------------------------------------- drawing

def _live(job: state.Job, choices: Choices, mode: str, opacity: float, every_layer: bool) -> None:
    def content():
        snapshot = job.snapshot
        if snapshot is None:
            return
        count = len(job.history)
        layers = [row["layer"] for row in job.history]
        _tiles(choices, mode, snapshot["original"], layers, list(job.partial[:count]), opacity,
               every_layer)
        _chart(choices, mode, job.history[:count])
    live.show(job, "stop_sanity", lambda job: f"{job.phase}: layer {job.step} of {job.total}",
              content)


def _finished(job: state.Job, choices: Choices, mode: str, opacity: float,
              every_layer: bool) -> None:
    result: fg.SanityResult = job.result
    steps = len(result.layers)
    if result.stopped_early:
        st.warning(f"Stopped after {steps} of {job.total} layers{state.stop_note(job)}: "
                   "showing those.")
    else:
        st.success(f"Randomised {steps} layers in {job.elapsed():.1f} s.")
    _tiles(choices, mode, result.original_maps[0], result.layers,
           [maps[0] for maps in result.maps], opacity, every_layer)
    rows = [{"step": step, "layer": layer,
             **{name: values[step - 1].tolist() for name, values in result.metrics.items()}}
            for step, layer in enumerate(result.layers, start=1)]
    _chart(choices, mode, rows, k=result.config["k"])
    with details.expander("Values per layer and configuration", "sanity_details") as box:
        if box.open:
            k = result.config["k"]
            st.dataframe([{"layer": _layer_title(choices, row["layer"]),
                           **{figures.sanity_title(name, k): row[name][0]
                              for name in figures.SANITY_METRICS}} for row in rows],
                         hide_index=True, key="sanity_table")
            details.show(result.config)


def _layer_title(choices: Choices, name: str) -> str:
    """'23 · Linear': the layer's name in the network and its kind."""
    return f"{name} · {type(choices.model.net.get_submodule(name)).__name__}"


def _shown(count: int, every_layer: bool) -> list[int]:
    """Indices of the steps to draw: all, or evenly spaced ones that keep the first and last."""
    if every_layer or count <= SHOWN_STEPS:
        return list(range(count))
    return sorted({round(i * (count - 1) / (SHOWN_STEPS - 1)) for i in range(SHOWN_STEPS)})


def _tiles(choices: Choices, mode: str, original_map, layers: list[str], maps: list,
           opacity: float, every_layer: bool) -> None:
    image = choices.image
    tiles = [(panels.overlay(image, original_map, opacity), "Trained network")]
    for index in _shown(len(maps), every_layer):
        tiles.append((panels.overlay(image, maps[index], opacity),
                      f"random: {_layer_title(choices, layers[index])}"))
    note = f"Maps after randomising {MODES[mode][1]}"
    if len(maps) > len(tiles) - 1:
        note += (f"; {len(tiles) - 1} of {len(maps)} layers, evenly spaced from the logits "
                 "layer down (**Show every layer** draws them all)")
    st.markdown(note + ".")
    for start in range(0, len(tiles), PER_ROW):
        columns = st.columns(PER_ROW)
        for column, (picture, caption) in zip(columns, tiles[start:start + PER_ROW]):
            column.image(picture, caption=caption, width="stretch")
    st.columns(PER_ROW)[0].image(panels.colorbar(), caption="low → high saliency",
                                 width="stretch")


def _chart(choices: Choices, mode: str, rows: list[dict], k: int | None = None) -> None:
    layers = [_layer_title(choices, row["layer"]) for row in rows]
    values = {name: [row[name][0] for row in rows] for name in figures.SANITY_METRICS}
    x_title = ("randomised from the top down to layer" if mode == "cascading"
               else "randomised layer (the others trained)")
    st.plotly_chart(figures.per_layer(layers, values, x_title, k), key="chart_sanity",
                    config={"displayModeBar": False})
    st.caption("Similarity of each map to the trained network's map (1 = the same map). "
               "**A method that passes drops towards 0**; a curve that stays high means the "
               "map does not depend on those weights. Spearman ρ ranks the pixels of the "
               "saliency maps (absolute values); the signed one ranks the signed attributions "
               "summed over colour channels, so it also sees a sign flip; SSIM compares local "
               "structure; HOG similarity correlates the maps' histograms of edge directions.")
