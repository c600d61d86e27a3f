"""Paper-style figures and a summary table from a sweep's rows (Ghorbani et al., Figure 3).

Each panel is one method; each line the mean of a metric over the images against eps, with
a 95% confidence band (mean +- 1.96 standard errors), solid for an attack and dashed, in the
same colour, for random sign noise picked by that attack's criterion: its baseline.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..defences import defences
from ..errors import ConfigError
from ..explainers import get_method, methods
from .results import read_results

METRICS = {"top_k_intersection": "Top-k intersection", "spearman": "Spearman rank correlation",
           "center_shift": "Center shift (pixels)"}
AXIS_TITLES = {"top_k_intersection": "Top-k<br>intersection", "spearman": "Spearman rank<br>correlation",
               "center_shift": "Center shift<br>(pixels)"}
BASELINE = "random-sign"
Z95 = 1.96
COLORS = {"top-k": "#F97316", "mass-center": "#10B981", "pgd": "#8B5CF6"}
OTHER_COLORS = ("#0EA5E9", "#E11D48", "#A16207", "#64748B")
GROUPS = ["defence", "method", "attack", "criterion", "epsilon_255"]


def aggregate(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per (defence, method, attack, criterion, eps): images n, mean, and the band's bounds."""
    grouped = rows.groupby(GROUPS, dropna=False, sort=True)[metric]
    table = grouped.agg(n="count", mean="mean", std="std").reset_index()
    half = Z95 * table["std"] / np.sqrt(table["n"])
    table["low"], table["high"] = table["mean"] - half, table["mean"] + half
    return table


def curves(rows: pd.DataFrame, metrics: list[str] | tuple[str, ...] = tuple(METRICS)) -> go.Figure:
    """One row of panels per metric (and defence), one column per method."""
    methods = sorted(dict.fromkeys(rows["method"]), key=_menu_order)
    defences = sorted(dict.fromkeys(rows["defence"]), key=_defence_order)
    panels = [(metric, defence) for metric in metrics for defence in defences]
    titles = [_method_title(method) if index == 0 else "" for index in range(len(panels)) for method in methods]
    figure = make_subplots(rows=len(panels), cols=len(methods), subplot_titles=titles,
                           shared_xaxes=True, horizontal_spacing=0.06,
                           vertical_spacing=0.12 / max(len(panels), 1) + 0.04)
    colors = _colors(rows)
    shown = set()
    for row, (metric, defence) in enumerate(panels, start=1):
        table = aggregate(rows[rows["defence"] == defence], metric)
        low = min(0.0, table["low"].min(skipna=True), table["mean"].min())
        high = max(table["high"].max(skipna=True), table["mean"].max())
        span = (high - low) or 1.0
        figure.update_yaxes(range=[low - 0.05 * span, high + 0.05 * span], row=row)
        for col, method in enumerate(methods, start=1):
            for (attack, criterion), line in table[table["method"] == method].groupby(["attack", "criterion"], sort=False):
                name = _line_name(attack, criterion)
                _add_line(figure, line, name, colors[criterion if attack == BASELINE else attack],
                          dashed=attack == BASELINE, row=row, col=col, legend=name not in shown)
                shown.add(name)
        label = AXIS_TITLES.get(metric, metric)
        figure.update_yaxes(title_text=label if len(defences) == 1 else f"{label}<br>({defence})",
                            title_font=dict(size=13), row=row, col=1)
    epsilons = sorted(set(rows["epsilon_255"]))
    figure.update_xaxes(tickvals=epsilons, ticktext=[f"{eps:g}" for eps in epsilons],
                        range=[0, max(epsilons) * 1.05 + 0.1])
    figure.update_xaxes(title_text="ε (L∞ radius, of 255)", title_font=dict(size=13), row=len(panels))
    n = rows.groupby(["method", "attack", "criterion", "defence", "epsilon_255"]).size()
    images = f"{n.min()}" if n.min() == n.max() else f"{n.min()}-{n.max()}"
    figure.update_layout(
        title=dict(text=f"{rows['model'].iloc[0]}: {images} images per point, "
                        f"{int(rows['steps'].iloc[0])} steps; mean with 95% band", font=dict(size=16)),
        height=150 + 260 * len(panels), width=max(520, 60 + 380 * len(methods)),
        legend=dict(orientation="h", yanchor="bottom", y=1.0 + 0.25 / len(panels), x=0),
        margin=dict(l=80, r=20, t=110, b=60), template="plotly_white")
    return figure


def _add_line(figure, line: pd.DataFrame, name: str, color: str, dashed: bool, row: int, col: int,
              legend: bool) -> None:
    x = line["epsilon_255"].tolist()
    band = line.dropna(subset=["low", "high"])
    if len(band):
        figure.add_trace(go.Scatter(
            x=band["epsilon_255"].tolist() + band["epsilon_255"].tolist()[::-1],
            y=band["high"].tolist() + band["low"].tolist()[::-1], fill="toself",
            fillcolor=_transparent(color), mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False,
            legendgroup=name), row=row, col=col)
    figure.add_trace(go.Scatter(
        x=x, y=line["mean"].tolist(), name=name, legendgroup=name, showlegend=legend,
        mode="lines+markers", line=dict(color=color, width=3, dash="dash" if dashed else "solid"),
        customdata=np.stack([line["n"], line["low"], line["high"]], axis=1),
        hovertemplate="ε %{x}: %{y:.3f} (95%: %{customdata[1]:.3f} to %{customdata[2]:.3f}, "
                      "n %{customdata[0]})"), row=row, col=col)


def _line_name(attack: str, criterion: str) -> str:
    return f"random sign ({criterion})" if attack == BASELINE else f"{attack} attack"


def _colors(rows: pd.DataFrame) -> dict[str, str]:
    names = list(dict.fromkeys([*rows["attack"], *rows["criterion"]]))
    spare = iter(OTHER_COLORS * 4)
    return {name: COLORS.get(name) or next(spare) for name in names}


def _transparent(color: str, alpha: float = 0.18) -> str:
    red, green, blue = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _menu_order(name: str) -> tuple:
    names = methods()
    return (names.index(name) if name in names else len(names), name)


def _defence_order(name: str) -> tuple:
    names = ["none", *defences()]
    return (names.index(name) if name in names else len(names), name)


def _method_title(name: str) -> str:
    try:
        return get_method(name).title
    except ConfigError:   # a method this version does not know: its name
        return name


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: images, share with a label-keeping perturbation found, labels
    kept, and the mean metrics."""
    keys = ["method", "attack", "criterion", "defence", "epsilon_255"]
    table = rows.groupby(keys, dropna=False, sort=True).agg(
        images=("image_id", "count"), found=("found", "mean"), label_kept=("label_kept", "mean"),
        top_k_intersection=("top_k_intersection", "mean"), spearman=("spearman", "mean"),
        center_shift=("center_shift", "mean"))
    return table.reset_index().rename(columns={"epsilon_255": "eps"})


def write_figures(rows: pd.DataFrame, folder: str | Path) -> list[Path]:
    """curves.html/.png (every metric) and one .html/.png per metric into `folder`.

    The HTML is interactive (plotly.min.js is written beside it once); the PNG needs a
    Chrome or Chromium for kaleido (BROWSER_PATH names one): without it, a warning and
    HTML only.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    figures = {"curves": curves(rows), **{metric: curves(rows, [metric]) for metric in METRICS}}
    written = []
    for name, figure in figures.items():
        path = folder / f"{name}.html"
        figure.write_html(path, include_plotlyjs="directory")
        written.append(path)
    pngs = [folder / f"{name}.png" for name in figures]
    try:
        import plotly.io as pio
        pio.write_images(list(figures.values()), pngs, scale=2)
    except Exception as error:   # no browser for kaleido, or kaleido itself failing
        warnings.warn(f"wrote the figures as HTML only: PNG export needs Chrome or Chromium for "
                      f"kaleido (install chromium or set BROWSER_PATH): {error}", stacklevel=2)
        return written
    return written + pngs


def report(out: str | Path) -> tuple[pd.DataFrame, list[Path]]:
    """Redraw the figures of the results directory `out`; its summary table and the files."""
    rows = read_results(out)
    if not len(rows):
        raise ConfigError(f"{out} has no rows yet: run a sweep with --out {out} first")
    return summary(rows), write_figures(rows, Path(out) / "figures")
