"""The compare page: every method under the same image and attack, ranked by fragility."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

import fragility as fg

from ..components import figures, panels, state
from ..components.choices import Choices

REFRESH_SECONDS = 0.5
PER_ROW = 4


def render(choices: Choices) -> None:
    st.title("Which explanation is most fragile?")
    if not choices.ready:
        for message in choices.errors:
            st.error(message)
        return
    st.markdown(f"Every method under the **{fg.get_attack(choices.attack).title}**, "
                f"ε = {choices.epsilon255:g}/255, on the same image. Ranked from most fragile "
                "(lowest Spearman rank correlation between the original and the perturbed map).")
    steps = int(st.number_input("Steps per method", 1, 1000, min(choices.steps, 10),
                                key="compare_steps",
                                help="Fewer steps than the attack page keep the whole grid quick: "
                                     "integrated gradients and SmoothGrad take many gradient "
                                     "passes per step."))
    names = fg.methods()
    key = state.config_key({**choices.key_parts(), "compare": names, "steps": steps})
    if st.button("Run every method", icon=":material/play_arrow:", type="primary", key="run_compare"):
        state.start_job(key, _work(choices, names, steps),
                        total=steps * len(names))
    job = state.jobs().get(key)
    opacity = st.session_state.get("opacity", 0.65)
    if job is None:
        st.caption(f"{len(names)} methods × {steps} steps.")
    elif job.running:
        @st.fragment(run_every=REFRESH_SECONDS)
        def live():
            if not job.running:
                st.rerun()
            st.progress(min(job.step / max(job.total, 1), 1.0),
                        text=f"{job.phase} · {len(job.partial)} of {len(names)} methods done")
            if st.button("Stop", icon=":material/stop:", key="stop_compare"):
                job.stop.set()
            _grid(list(job.partial), choices, opacity)
        live()
    elif job.error:
        state.show_error(job)
    else:
        if job.stopped:
            st.warning(f"Stopped{state.stop_note(job)}: showing the methods finished so far.")
        _ranking(job.partial)
        _grid(job.partial, choices, opacity)


def _work(choices: Choices, names: list[str], steps: int):
    model, images = choices.model, choices.image[None]
    arguments = {**choices.attack_arguments(), "steps": steps}

    def work(job: state.Job):
        for name in names:
            if job.stopped:
                break
            job.phase = f"{fg.get_method(name).title}"
            options = choices.method_options if name == choices.method else {}
            result = fg.attack(model, images, **{**arguments, "method": name,
                                                 "method_options": options},
                               callback=job.callback([]))
            if not result.stopped_early:
                job.partial.append((name, result))
        return job.partial
    return work


def _ranked(partial):
    return sorted(partial, key=lambda item: float(item[1].metrics["spearman"][0]))


def _ranking(partial) -> None:
    ranked = _ranked(partial)
    if not ranked:
        return
    titles = [fg.get_method(name).title for name, _ in ranked]
    values = [float(result.metrics["spearman"][0]) for _, result in ranked]
    figure = go.Figure(go.Bar(x=values, y=titles, orientation="h",
                              marker_color=figures.ATTACK_COLOR,
                              text=[f"{v:.2f}" for v in values], textposition="auto"))
    figure.update_layout(title="Spearman rank correlation after the attack (lower = more fragile)",
                         font=figures.FONT, height=60 + 45 * len(ranked),
                         margin=dict(l=10, r=10, t=50, b=10))
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(range=[min(0.0, min(values)) - 0.05, 1.0])
    st.plotly_chart(figure, key="compare_ranking", config={"displayModeBar": False})


def _grid(partial, choices: Choices, opacity: float) -> None:
    ranked = _ranked(partial)
    for start in range(0, len(ranked), PER_ROW):
        for column, (rank, (name, result)) in zip(
                st.columns(PER_ROW), enumerate(ranked[start:start + PER_ROW], start + 1)):
            with column.container(border=True):
                metrics = result.metrics
                st.markdown(f"**{rank}. {fg.get_method(name).title}**")
                left, right = st.columns(2)
                left.image(panels.overlay(choices.image, result.original_maps[0], opacity),
                           caption="original", width="stretch")
                right.image(panels.overlay(result.perturbed[0], result.perturbed_maps[0], opacity),
                            caption="perturbed", width="stretch")
                kept = "kept" if bool(result.labels_kept[0]) else "changed"
                st.markdown(f"Spearman **{float(metrics['spearman'][0]):.2f}** · "
                            f"top-{choices.k} **{float(metrics['top_k_intersection'][0]):.0%}** · "
                            f"shift **{float(metrics['center_shift'][0]):.1f} px** · label {kept}")
