"""Plotly charts of an attack's progress and of the sanity checks: the dashboard's charts and
fg.plot's. Colours read well on light and dark themes."""

from __future__ import annotations

import base64

import plotly.graph_objects as go
import torch
from PIL import Image

from .rendering import heatmap, png_bytes

ATTACK_COLOR = "#F97316"    # orange: the attack
RANDOM_COLOR = "#3B82F6"    # blue: the random-sign baseline
FONT = dict(size=16)


def _layout(figure: go.Figure, title: str, x_title: str, y_title: str,
            y_range: tuple[float, float] | None = None) -> go.Figure:
    figure.update_layout(title=dict(text=title, font=dict(size=18)), font=FONT, height=320,
                         margin=dict(l=10, r=10, t=50, b=10),
                         legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"),
                         uirevision="keep")
    figure.update_xaxes(title=x_title)
    figure.update_yaxes(title=y_title, range=y_range)
    return figure


def per_step(history: list[dict], baseline: list[dict], metric: str, title: str,
             total_steps: int, baseline_name: str = "random sign") -> go.Figure:
    """The best-so-far `metric` of image 0 at each step, with the random-sign baseline's
    best-so-far draw beside it (a level line when the baseline is one draw)."""
    figure = go.Figure()
    if len(baseline) == 1:
        level = baseline[-1][metric][0]
        figure.add_trace(go.Scatter(x=[0, max(total_steps, 1)], y=[level, level],
                                    name=baseline_name, mode="lines",
                                    line=dict(color=RANDOM_COLOR, width=3, dash="dash")))
    elif baseline:
        figure.add_trace(go.Scatter(x=[row["step"] for row in baseline],
                                    y=[row[metric][0] for row in baseline], name=baseline_name,
                                    line=dict(color=RANDOM_COLOR, width=3, dash="dash")))
    figure.add_trace(go.Scatter(x=[row["step"] for row in history],
                                y=[row[metric][0] for row in history], name="attack",
                                line=dict(color=ATTACK_COLOR, width=4)))
    figure = _layout(figure, title, "step", "", (-0.05 if metric == "top_k_intersection" else -1.05, 1.05))
    figure.update_xaxes(range=[0, max(total_steps, 1)])
    return figure


def over_k(ks: list[int], attack: list[float], random: list[float] | None,
           baseline_name: str = "random sign") -> go.Figure:
    """Top-k intersection as a function of k, attack against random sign."""
    figure = go.Figure()
    if random is not None:
        figure.add_trace(go.Scatter(x=ks, y=random, name=baseline_name, mode="lines+markers",
                                    line=dict(color=RANDOM_COLOR, width=3, dash="dash")))
    figure.add_trace(go.Scatter(x=ks, y=attack, name="attack", mode="lines+markers",
                                line=dict(color=ATTACK_COLOR, width=4)))
    figure = _layout(figure, "Top-k intersection over k", "k (top pixels)", "", (-0.05, 1.05))
    figure.update_xaxes(type="log", tickvals=ks, ticktext=[str(k) for k in ks])
    return figure


def center_path(saliency: torch.Tensor, path: list[tuple[float, float]],
                start: tuple[float, float] | None) -> go.Figure:
    """The original map with the path of the perturbed map's center of mass over the steps."""
    # The map drawn in the tiles' colours, so that both read the same way; as a PNG, which
    # the browser decodes at once, where `z` values are drawn pixel by pixel in JavaScript
    # (each live redraw of this chart cost the browser 1.5 times as much; see
    # benchmarks/bench_chart_redraw.py).
    picture = base64.b64encode(png_bytes(Image.fromarray(heatmap(saliency)))).decode()
    figure = go.Figure(go.Image(source=f"data:image/png;base64,{picture}", hoverinfo="skip"))
    if start is not None:
        figure.add_trace(go.Scatter(x=[start[1]], y=[start[0]], mode="markers", name="original",
                                    marker=dict(size=16, color=RANDOM_COLOR, symbol="circle",
                                                line=dict(color="white", width=2))))
    if path:
        figure.add_trace(go.Scatter(x=[p[1] for p in path], y=[p[0] for p in path],
                                    mode="lines+markers", name="attack",
                                    line=dict(color=ATTACK_COLOR, width=3),
                                    marker=dict(size=5)))
        figure.add_trace(go.Scatter(x=[path[-1][1]], y=[path[-1][0]], mode="markers",
                                    name="now", marker=dict(size=16, color=ATTACK_COLOR,
                                                            symbol="x", line=dict(color="white", width=2))))
    figure = _layout(figure, "Center of mass of the map", "", "")
    height, width = saliency.shape[-2:]
    figure.update_xaxes(showticklabels=False, showgrid=False, range=[-0.5, width - 0.5])
    figure.update_yaxes(showticklabels=False, showgrid=False, range=[height - 0.5, -0.5],
                        scaleanchor="x")
    return figure


# The sanity check's similarity measures: title and colour of each line.
SANITY_METRICS = {"spearman": "Spearman ρ", "spearman_signed": "Spearman ρ, signed (no abs)",
                  "ssim": "SSIM", "hog": "HOG similarity", "top_k_intersection": "Top-k intersection"}
SANITY_COLORS = {"spearman": ATTACK_COLOR, "spearman_signed": "#A855F7", "ssim": RANDOM_COLOR,
                 "hog": "#EAB308", "top_k_intersection": "#10B981"}


def sanity_title(name: str, k: int | None = None) -> str:
    return f"Top-{k} intersection" if name == "top_k_intersection" and k else SANITY_METRICS[name]


def per_layer(layers: list[str], values: dict[str, list[float]], x_title: str,
              k: int | None = None) -> go.Figure:
    """Each similarity measure (image 0) per randomised layer, from the logits layer down.

    NaN (Spearman of a constant map) is left as a gap in the line.
    """
    figure = go.Figure()
    figure.add_hline(y=0, line=dict(color="gray", width=1, dash="dot"))
    lowest = 0.0
    for name in SANITY_METRICS:
        ys = [None if value != value else value for value in values[name]]
        lowest = min([lowest, *(y for y in ys if y is not None)])
        figure.add_trace(go.Scatter(x=layers, y=ys, name=sanity_title(name, k), mode="lines+markers",
                                    line=dict(color=SANITY_COLORS[name], width=4),
                                    marker=dict(size=9)))
    figure = _layout(figure, "Similarity to the trained network's map", x_title, "",
                     (lowest - 0.05, 1.05))
    figure.update_layout(height=380)
    figure.update_xaxes(type="category")
    return figure


def per_method(methods: list[str], values: dict[str, list[float]],
               floors: dict[str, list[float]], k: int | None = None,
               floor_name: str = "noise floor") -> go.Figure:
    """Each similarity measure per method (bars) with the level it is compared with (a tick
    on each bar, named floor_name).

    values[name][i] compares method i's maps on two models; floors[name][i] is that level
    for method i (the control model's similarity, or the method against itself with fresh
    noise). NaN is left out.
    """
    figure = go.Figure()
    figure.add_hline(y=0, line=dict(color="gray", width=1, dash="dot"))
    lowest = 0.0
    for index, name in enumerate(SANITY_METRICS):
        ys = [None if value != value else value for value in values[name]]
        lowest = min([lowest, *(y for y in ys if y is not None)])
        figure.add_trace(go.Bar(x=methods, y=ys, name=sanity_title(name, k), offsetgroup=index,
                                marker=dict(color=SANITY_COLORS[name])))
        floor = [None if value != value else value for value in floors[name]]
        figure.add_trace(go.Scatter(x=methods, y=floor, mode="markers", offsetgroup=index,
                                    name=floor_name, legendgroup="floor",
                                    showlegend=index == 0,
                                    marker=dict(symbol="line-ew-open", size=18, color="gray",
                                                line=dict(width=3, color="gray"))))
    figure = _layout(figure, "Similarity of the trained and the shuffled-label model's maps",
                     "", "", (lowest - 0.05, 1.05))
    figure.update_layout(height=400, barmode="group", scattermode="group")
    return figure
