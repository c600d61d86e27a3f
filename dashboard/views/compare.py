"""The compare page: every method under the same image and attack, ranked by how far the
attack moves its map beyond what random sign noise of the same size does (fragility.chance):
by the Spearman and the top-k intersection gaps, their mean by default."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import fragility as fg
from fragility.chance import GAPS, RANKINGS, beyond_chance, missing_note

from ..components import compute, figures, live, panels, state
from ..components.choices import Choices, adaptive_note, top_k_title

PER_ROW = 4
RANK_COLUMNS = {"mean": "mean of both gaps", "spearman": "Δ Spearman", "top_k_intersection": "Δ top-k"}
# Steps per method. Measured with scripts/compare_steps.py on the bundled model's generated
# samples (top-k attack, eps 8): the ranking by the Spearman gap agrees with the
# 100-step ranking from 10 steps on; 50 leaves a margin (see STABLE_NOTE).
DEFAULT_STEPS = 50
STABLE_NOTE = ("The ranking by the Spearman gap stops changing well before 50 steps: on three of the bundled "
               "model's samples (top-k attack, ε 8) it is the same at 10, 25 and 50 steps as at "
               "100 (Kendall τ 1.00); at 5 steps two methods swap places (τ 0.93). Measured by "
               "scripts/compare_steps.py.")


def render(choices: Choices) -> None:
    st.title("Which explanation is most fragile?")
    if not choices.ready:
        for message in choices.errors:
            st.error(message)
        return
    attack = fg.get_attack(choices.attack)
    if attack.kind != "interpretation":
        st.info(f"The compare page ranks interpretation attacks against random sign; the "
                f"**{attack.title}** is not one. Choose another attack in the sidebar.")
        return
    st.markdown(f"Every method under the **{attack.title}**, ε = {choices.epsilon255:g}/255, on the "
                "same image, each next to random sign noise of the same ε (the best of as many "
                "draws as steps, picked by the same measure). Ranked by **the effect beyond "
                "chance**: how much lower the attack's similarity is than random sign's, by "
                "Spearman rank correlation and by top-k intersection (a method can keep its "
                "ranks yet lose every top pixel). No gap where either side kept no label.")
    by = _rank_choice()
    st.caption(f"Ranked by {RANKINGS[by]}.")
    if choices.defence:
        st.markdown(adaptive_note(choices))
    steps = int(st.number_input("Steps per method", 1, 2000, DEFAULT_STEPS, key="compare_steps",
                                help=STABLE_NOTE))
    st.caption(STABLE_NOTE)
    names = fg.methods()
    key = state.config_key({**choices.key_parts(), "compare": names, "steps": steps})
    if st.button("Run every method", icon=":material/play_arrow:", type="primary", key="run_compare"):
        runs = (2 if choices.defence else 1) * 2 * len(names)
        state.start_job(key, _work(choices, names, steps), total=steps * runs)
    job = state.jobs().get(key)
    opacity = st.session_state.get("opacity", 0.65)
    if job is None:
        defended = f", with and without {fg.get_defence(choices.defence).title}" if choices.defence else ""
        st.caption(f"{len(names)} methods × {steps} steps, each with its random-sign baseline{defended}.")
        st.caption(cost_note(choices, names))
    elif job.running:
        live.show(job, "stop_compare",
                  lambda job: f"{job.phase} · {len(job.partial)} of {len(names)} methods done"
                              f"{time_left_text(job, choices, names)}",
                  lambda: _grid(list(job.partial), choices, opacity, by))
    elif job.error:
        state.show_error(job)
    else:
        if job.stopped:
            st.warning(f"Stopped{state.stop_note(job)}: showing the methods finished so far.")
        _ranking(job.partial, choices, by)
        _grid(job.partial, choices, opacity, by)


def passes_per_step(name: str, choices: Choices) -> int:
    """How many forward/backward passes one attack step spends on `name`'s map: one per
    integration point or noisy sample for the methods that average maps, else one."""
    values = {parameter.name: parameter.default for parameter in fg.get_method(name).parameters}
    if name == choices.method:
        values.update(choices.method_options)
    count = values.get("samples", values.get("steps")) if name in ("smoothgrad", "integrated-gradients") else 1
    return int(count)


def time_left_text(job: state.Job, choices: Choices, names: list[str]) -> str:
    """' · about 40 s left', from the time the finished methods took per pass ('' before one
    has finished): the methods' costs differ a hundredfold, so steps alone would mislead."""
    passes = {name: passes_per_step(name, choices) for name in names}
    done = sum(passes[row["method"]] for row in job.partial)
    if not done:
        return ""
    left = sum(passes.values()) - done
    return f" · about {job.whole_time() / done * left:.0f} s left"


def cost_note(choices: Choices, names: list[str]) -> str:
    """What each method costs per step, said before the run."""
    passes = {name: passes_per_step(name, choices) for name in names}
    costly = {name: count for name, count in passes.items() if count > 1}
    if not costly:
        return f"Each method's map costs one forward/backward pass per attack step ({len(names)} in all)."
    listed = ", ".join(f"{fg.get_method(name).title} {count}" for name, count in costly.items())
    return (f"Cost per attack step, in forward/backward passes of one image: one for each method but {listed} "
            f"(one per integration point or noisy sample), {sum(costly.values())} of the "
            f"{sum(passes.values())} passes of a step. Choosing one of them as the method in the sidebar "
            "lets you lower its points or samples for this run.")


# ---------------------------------------------------------------- computing (worker thread)

def _work(choices: Choices, names: list[str], steps: int):
    model, images = choices.model, choices.image[None]
    # The target-map attack's target image: each method imitates its own map of it.
    target_image = None
    if "target_map" in choices.parameters and st.session_state.get("target_sample"):
        target_image = fg.get_sample(st.session_state["target_sample"]).load(size=choices.image.shape[-1])
    defences = [None, choices.defence] if choices.defence else [None]

    def arguments_for(name: str, defence):
        options = choices.method_options if name == choices.method else {}
        arguments = {**choices.attack_arguments(), "steps": steps, "method": name,
                     "method_options": options, "defence": defence,
                     "defence_options": choices.defence_options if defence else None}
        if target_image is not None:
            arguments["target_map"] = fg.explain(model, target_image[None], name, target=choices.target,
                                                 **options)[0]
        return arguments

    def work(job: state.Job):
        for name in names:
            row = {"method": name}
            for defence in defences:
                if job.stopped:
                    return job.partial
                arguments = arguments_for(name, defence)
                suffix = f" with {fg.get_defence(defence).title}" if defence else ""
                job.phase = f"{fg.get_method(name).title}{suffix}"
                result = compute.attack(model, images, **arguments, callback=job.callback([]))
                job.phase = f"{fg.get_method(name).title}{suffix}: random sign"
                baseline = compute.attack(model, images, **_baseline(arguments), callback=job.callback([]))
                if result.stopped_early or baseline.stopped_early:
                    return job.partial
                row["defended" if defence else "plain"] = (result, baseline, arguments.get("target_map"))
            job.partial.append(row)
        return job.partial
    return work


def _baseline(arguments: dict) -> dict:
    spec = fg.get_attack("random-sign")
    criterion = arguments["attack"]
    kept = {name: value for name, value in arguments.items()
            if spec.parameter(name) is not None or name in ("method", "method_options", "target", "mask",
                                                            "defence", "defence_options")}
    return {**kept, "attack": "random-sign", "criterion": criterion}


# ---------------------------------------------------------------- drawing

def _gaps(pair) -> dict[str, float]:
    result, baseline = pair[:2]
    return {name: float(value[0]) for name, value in beyond_chance(result, baseline).items()}


def _ranked(partial: list[dict], by: str = "mean") -> list[dict]:
    """Most fragile first by the gap `by`; methods without one (nothing found) last."""
    def score(row):
        value = _gaps(row["plain"])[by]
        return -value if value == value else float("inf")
    return sorted(partial, key=score)


def _rank_choice() -> str:
    return st.radio("Rank by", list(RANKINGS), format_func=lambda name: RANKINGS[name].replace("the ", "", 1),
                    horizontal=True, key="compare_rank")


def _ranking(partial: list[dict], choices: Choices, by: str) -> None:
    ranked = _ranked(partial, by)
    if not ranked:
        return
    titles = [fg.get_method(row["method"]).title for row in ranked]
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                           subplot_titles=["Spearman rank correlation", f"{top_k_title(choices)} intersection"])

    def bars(metric, col, pair_index, name, color, pattern="", which="plain"):
        values = [float(row[which][pair_index].metrics[metric][0]) for row in ranked]
        figure.add_trace(go.Bar(x=values, y=titles, orientation="h", name=name, marker_color=color,
                                marker_pattern_shape=pattern, text=[f"{v:.2f}" for v in values],
                                textposition="auto", legendgroup=name, showlegend=col == 1), row=1, col=col)
    for col, metric in enumerate(GAPS, start=1):
        bars(metric, col, 1, "random sign", figures.RANDOM_COLOR)
        bars(metric, col, 0, "attack", figures.ATTACK_COLOR)
        if choices.defence:
            bars(metric, col, 0, f"attack, {fg.get_defence(choices.defence).title} on", "#10B981", "/",
                 which="defended")
    figure.update_layout(title=f"After the attack and after random sign (most fragile first, by {RANKINGS[by]})",
                         font=figures.FONT, height=140 + 70 * len(ranked), barmode="group",
                         margin=dict(l=10, r=10, t=90, b=10),
                         legend=dict(orientation="h", yanchor="bottom", y=1.08, x=1, xanchor="right"))
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(range=[-0.05, 1.05])
    st.plotly_chart(figure, key="compare_ranking", config={"displayModeBar": False})
    st.dataframe([_table_row(row, choices, by) for row in ranked], hide_index=True, key="compare_table")
    missing = [row for row in ranked if _gaps(row["plain"])[by] != _gaps(row["plain"])[by]]
    if missing:
        st.caption("No gap where a side found no label-keeping perturbation (its numbers would be the "
                   "unperturbed image's: Spearman 1): " + "; ".join(
                       f"{fg.get_method(row['method']).title}: {missing_note(*row['plain'][:2])}"
                       for row in missing) + ". These methods are ranked last.")


def _table_row(row: dict, choices: Choices, by: str) -> dict:
    result, baseline, _ = row["plain"]
    gaps = _gaps(row["plain"])
    line = {"method": fg.get_method(row["method"]).title,
            f"ranked by: {RANK_COLUMNS[by]}": gaps[by],
            "beyond chance (Δ Spearman)": gaps["spearman"],
            f"beyond chance (Δ top-{choices.k})": gaps["top_k_intersection"],
            "beyond chance (mean of both)": gaps["mean"],
            "Spearman": float(result.metrics["spearman"][0]),
            "Spearman, random sign": float(baseline.metrics["spearman"][0]),
            f"top-{choices.k}": float(result.metrics["top_k_intersection"][0]),
            f"top-{choices.k}, random sign": float(baseline.metrics["top_k_intersection"][0]),
            "found": bool(result.found[0]), "random sign found": bool(baseline.found[0]),
            "note": missing_note(result, baseline) or ""}
    if result.noise_floor is not None:
        line["Spearman, noise floor"] = float(result.noise_floor["spearman"][0])
    if "defended" in row:
        defended, defended_baseline, _ = row["defended"]
        line[f"beyond chance, defended ({RANK_COLUMNS[by]})"] = _gaps(row["defended"])[by]
        line["faithfulness at ε = 0"] = float(defended.metrics["faithfulness_spearman"][0])
    return line


def _grid(partial: list[dict], choices: Choices, opacity: float, by: str = "mean") -> None:
    ranked = _ranked(partial, by)
    for start in range(0, len(ranked), PER_ROW):
        for column, (rank, row) in zip(st.columns(PER_ROW), enumerate(ranked[start:start + PER_ROW], start + 1)):
            result, baseline, target_map = row["plain"]
            with column.container(border=True):
                st.markdown(f"**{rank}. {fg.get_method(row['method']).title}**")
                pictures = [(panels.overlay(choices.image, result.original_maps[0], opacity), "original"),
                            (panels.overlay(result.perturbed[0], result.perturbed_maps[0], opacity), "perturbed")]
                if target_map is not None:
                    pictures.append((panels.overlay(choices.image, target_map, 1.0), "its target map"))
                for picture_column, (picture, caption) in zip(st.columns(len(pictures)), pictures):
                    picture_column.image(picture, caption=caption, width="stretch")
                if not bool(result.found[0]):
                    st.markdown(f"no label-keeping perturbation found in {result.steps_run} steps")
                    continue
                if not bool(baseline.found[0]):
                    st.markdown(f"no random sign draw kept the label in {baseline.steps_run} steps: "
                                "no effect beyond chance to show")
                metrics, random = result.metrics, baseline.metrics
                st.markdown(f"Spearman **{float(metrics['spearman'][0]):.2f}** "
                            f"(random {float(random['spearman'][0]):.2f}) · "
                            f"top-{choices.k} **{float(metrics['top_k_intersection'][0]):.0%}** "
                            f"(random {float(random['top_k_intersection'][0]):.0%})")
