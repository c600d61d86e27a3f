"""Paper-style figures and a summary table from a sweep's rows (Ghorbani et al., Figure 3).

Each panel is one method; each line a metric against eps, solid for an attack and dashed, in
the same colour, for random sign noise picked by that attack's criterion: its baseline.
SmoothGrad's noise floor (two noise draws, no attack) is dotted.

The statistics count images, not runs. A run that found no label-keeping perturbation keeps
the image's own numbers (Spearman 1, top-k 1, shift 0), which are no result: a point is the
mean over the runs that found one, with n (the images that count) and the found share
beside it. The seeds of an image are averaged first (a deterministic attack gives the same
numbers for every seed; random sign's draws are not more images), and the 95% band is
mean +- t(0.975, n-1) standard errors. Below each metric, attack minus its baseline on the
images where both found one, with the paired 95% band.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy import stats

from ..defences import defences
from ..errors import ConfigError
from ..explainers import get_method, methods
from .grid import BASELINE, PARAMETER_AXES
from .results import read_results

METRICS = {"top_k_intersection": "Top-k intersection", "spearman": "Spearman rank correlation",
           "center_shift": "Center shift (pixels)"}
AXIS_TITLES = {"top_k_intersection": "Top-k<br>intersection", "spearman": "Spearman rank<br>correlation",
               "center_shift": "Center shift<br>(pixels)"}
PARAMETER_TITLES = {"k": "k (top-k pixels)", "beta": "β (softplus sharpness of the attack's surrogate)",
                    "epsilon_255": "ε (L∞ radius, of 255)"}
SYMBOLS = {"k": "k", "beta": "β", "epsilon_255": "ε"}
SHORT = {"top_k_intersection": "top-k", "spearman": "Spearman", "center_shift": "center shift"}
COLORS = {"top-k": "#F97316", "mass-center": "#10B981", "pgd": "#8B5CF6"}
OTHER_COLORS = ("#0EA5E9", "#E11D48", "#A16207", "#64748B")
FLOOR_COLOR = "#334155"
CONFIDENCE = 0.95
PANEL_HEIGHT, PANEL_GAP = 240, 70   # pixels per row of panels, and between two
# One configuration, seeds aside: a point of a curve.
POINT = ["defence", "method", "attack", "criterion", *PARAMETER_AXES, "epsilon_255"]


def t_quantile(n) -> np.ndarray:
    """The two-sided 95% quantile of Student's t with n - 1 degrees of freedom (NaN for n < 2)."""
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(n >= 2, stats.t.ppf(0.5 + CONFIDENCE / 2, np.maximum(n - 1, 1)), np.nan)


def _with_axes(rows: pd.DataFrame) -> pd.DataFrame:
    """`rows` with every axis column (rows of earlier versions have no beta)."""
    missing = [name for name in PARAMETER_AXES if name not in rows]
    return rows.assign(**dict.fromkeys(missing, np.nan)) if missing else rows


def per_image(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per configuration (seeds aside) and image: runs (seeds tried), found (those that found a
    label-keeping perturbation) and value: `metric` averaged over the found runs (NaN if none)."""
    rows = _with_axes(rows)
    keys = [*POINT, "image_id"]
    found = rows["found"].astype(bool)
    table = rows.assign(found=found, value=rows[metric].where(found)).groupby(
        keys, dropna=False, sort=True).agg(runs=("found", "size"), found=("found", "sum"),
                                           value=("value", "mean"))
    return table.reset_index()


def _band(table: pd.DataFrame) -> pd.DataFrame:
    half = t_quantile(table["n"]) * table["std"] / np.sqrt(table["n"])
    return table.assign(low=table["mean"] - half, high=table["mean"] + half)


def aggregate(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per point (POINT): images, found (share of the runs that found a label-keeping
    perturbation), n (images with one), the mean over them and its 95% t band (low, high)."""
    images = per_image(rows, metric)
    table = images.groupby(POINT, dropna=False, sort=True).agg(
        images=("image_id", "size"), runs=("runs", "sum"), found_runs=("found", "sum"),
        n=("value", "count"), mean=("value", "mean"), std=("value", "std")).reset_index()
    table["found"] = table.pop("found_runs") / table.pop("runs")
    return _band(table)


def paired(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per point of an interpretation attack: `metric` of the attack minus that of its
    random-sign baseline (same image, eps, method, defence, k), over the images where both
    found a label-keeping perturbation: n, mean, and the paired 95% t band (low, high)."""
    images = per_image(rows, metric).dropna(subset=["value"])
    baseline = images[images["attack"] == BASELINE].drop(columns=["attack", "beta", "runs", "found"])
    attacked = images[images["attack"] != BASELINE].drop(columns=["runs", "found"])
    same = ["defence", "method", "criterion", "k", "epsilon_255", "image_id"]
    both = attacked.merge(baseline, on=same, suffixes=("", "_baseline"))
    both["difference"] = both["value"] - both["value_baseline"]
    table = both.groupby(POINT, dropna=False, sort=True)["difference"].agg(
        n="count", mean="mean", std="std").reset_index()
    return _band(table)


def noise_floor(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per method, defence, k and eps: the mean noise floor of `metric` over the images (each
    image's draws averaged first), where the method has one (SmoothGrad)."""
    column = f"noise_floor_{metric}"
    rows = _with_axes(rows)
    if column not in rows or rows[column].isna().all():
        return pd.DataFrame(columns=["defence", "method", "k", "epsilon_255", "n", "mean"])
    keys = ["defence", "method", "k", "epsilon_255"]
    images = rows.dropna(subset=[column]).groupby([*keys, "image_id"], dropna=False)[column].mean()
    return images.groupby(keys, dropna=False).agg(n="count", mean="mean").reset_index()


# ---------------------------------------------------------------- figures

def curves(rows: pd.DataFrame, metrics: list[str] | tuple[str, ...] = tuple(METRICS),
           differences: bool = True) -> go.Figure:
    """Each metric against eps, one column per method, one row of panels per metric and
    variant (defence, and k or beta where the sweep varies them); with `differences`, below
    each, attack minus random sign on the same images with its paired band."""
    return _figure(rows, "epsilon_255", metrics, differences)


def parameter_curves(rows: pd.DataFrame, parameter: str = "beta",
                     metrics: list[str] | tuple[str, ...] = ("spearman", "top_k_intersection"),
                     differences: bool = True) -> go.Figure:
    """Each metric after the attack against an axis parameter (beta, k), one row of panels per
    metric and eps, with the random-sign baseline of the same eps (dashed: random sign has
    no beta, so its line is flat in beta) and, below, their paired difference."""
    if parameter not in PARAMETER_AXES:
        raise ConfigError(f"no axis parameter {parameter!r}; choose among {', '.join(PARAMETER_AXES)}")
    return _figure(rows, parameter, metrics, differences)


def _figure(rows: pd.DataFrame, x: str, metrics, differences: bool) -> go.Figure:
    rows = _with_axes(rows)
    method_names = sorted(dict.fromkeys(rows["method"]), key=_menu_order)
    variants = _variants(rows, x)
    varying = [name for name in ("defence", *PARAMETER_AXES, "epsilon_255")
               if name != x and len({v.get(name) for v in variants}) > 1]
    panels = [(metric, variant, kind) for metric in metrics for variant in variants
              for kind in (("values", "differences") if differences else ("values",))]
    titles = [_method_title(method) if index == 0 else "" for index in range(len(panels)) for method in method_names]
    figure = make_subplots(rows=len(panels), cols=len(method_names), subplot_titles=titles,
                           shared_xaxes=True, horizontal_spacing=0.06,
                           vertical_spacing=PANEL_GAP / (PANEL_HEIGHT * len(panels)),
                           row_heights=[1.0 if kind == "values" else 0.7 for _, _, kind in panels])
    colors = _colors(rows)
    shown = set()
    for row, (metric, variant, kind) in enumerate(panels, start=1):
        chosen = _chosen(rows, variant)
        table = aggregate(chosen, metric) if kind == "values" else paired(chosen, metric)
        floor = noise_floor(chosen, metric) if kind == "values" and x == "epsilon_255" else None
        _y_range(figure, row, table, floor, around_zero=kind == "differences")
        for col, method in enumerate(method_names, start=1):
            lines = table[table["method"] == method]
            for (attack, criterion), line in lines.groupby(["attack", "criterion"], sort=False):
                line = line.sort_values(x)
                baseline = attack == BASELINE
                name = _line_name(attack, criterion) if kind == "values" else f"{attack} − random sign"
                color = colors[criterion if baseline else attack]
                if line[x].isna().all():   # random sign has no beta: flat across the beta axis
                    line = _flat(line, sorted(set(rows[x].dropna())), x)
                _add_line(figure, line, x, name, color, "dash" if baseline else "solid", row, col,
                          legend=name not in shown, paired=kind == "differences")
                shown.add(name)
            if floor is not None and len(floor[floor["method"] == method]):
                name = "noise floor (no attack)"
                _add_floor(figure, floor[floor["method"] == method].sort_values(x), name, row, col,
                           legend=name not in shown)
                shown.add(name)
            if kind == "differences":
                figure.add_hline(y=0, line=dict(color="#94A3B8", width=1), row=row, col=col)
        label = AXIS_TITLES.get(metric, metric)
        if kind == "differences":
            label = f"attack − random<br>sign ({SHORT.get(metric, metric)})"
        suffix = ", ".join(_variant_text(name, variant[name]) for name in varying)
        figure.update_yaxes(title_text=f"{label}<br>({suffix})" if suffix else label,
                            title_font=dict(size=13), row=row, col=1)
    values = sorted(set(rows[x].dropna()))
    if x == "epsilon_255":
        figure.update_xaxes(tickvals=values, ticktext=[f"{value:g}" for value in values],
                            range=[0, max(values) * 1.05 + 0.1])
    else:
        figure.update_xaxes(type="log", tickvals=values, ticktext=[f"{value:g}" for value in values])
    figure.update_xaxes(title_text=PARAMETER_TITLES.get(x, x), title_font=dict(size=13), row=len(panels))
    height = 190 + PANEL_HEIGHT * len(panels)
    figure.update_layout(
        title=dict(text=_title(rows, x, differences), font=dict(size=15), yref="container",
                   y=1 - 16 / height, yanchor="top"),
        height=height, width=max(600, 60 + 380 * len(method_names)),
        legend=dict(orientation="h", yref="container", yanchor="top", y=1 - (92 if differences else 72) / height,
                    x=0),
        margin=dict(l=90, r=20, t=180 if differences else 140, b=60), template="plotly_white")
    return figure


def _variants(rows: pd.DataFrame, x: str) -> list[dict]:
    """The rows of panels: each combination of defence, k, beta and eps the rows hold, less
    the x axis; an attack without beta (random sign) belongs to every beta's panels."""
    names = [name for name in ("defence", *PARAMETER_AXES, "epsilon_255") if name != x]
    attacked = rows[rows["attack"] != BASELINE]
    source = attacked if len(attacked) else rows
    combos = source[names].drop_duplicates()
    variants = [{name: _plain(value) for name, value in combo.items()} for combo in combos.to_dict("records")]

    def covered(variant: dict) -> bool:   # no beta (pgd), where some beta's panels show it anyway
        return variant.get("beta", 0) is None and any(
            other.get("beta") is not None and all(other[n] == variant[n] for n in names if n != "beta")
            for other in variants)
    variants = [variant for variant in variants if not covered(variant)]
    order = {"defence": _defence_order}
    return sorted(variants, key=lambda v: [order.get(n, _number_order)(v[n]) for n in names])


def _chosen(rows: pd.DataFrame, variant: dict) -> pd.DataFrame:
    keep = pd.Series(True, index=rows.index)
    for name, value in variant.items():
        column = rows[name]
        matches = column.isna() if value is None else column == value
        if name == "beta":   # random sign (pgd) has no beta: the same at every beta
            matches |= column.isna()
        keep &= matches
    return rows[keep]


def _flat(line: pd.DataFrame, values: list, x: str) -> pd.DataFrame:
    point = line.iloc[[0]]
    return pd.concat([point.assign(**{x: value}) for value in values], ignore_index=True)


def _plain(value):
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value


def _number_order(value) -> tuple:
    return (value is None, value if value is not None else 0)


def _variant_text(name: str, value) -> str:
    if name == "defence":
        return str(value)
    return f"{SYMBOLS.get(name, name)} {value:g}" if value is not None else f"no {SYMBOLS.get(name, name)}"


def _y_range(figure, row: int, table: pd.DataFrame, floor, around_zero: bool) -> None:
    parts = [table["low"], table["high"], table["mean"]] + ([floor["mean"]] if floor is not None else [])
    values = pd.concat(parts).dropna()
    if not len(values):
        return
    low, high = min(0.0, values.min()), values.max()
    if around_zero:
        high = max(0.0, high)
    span = (high - low) or 1.0
    figure.update_yaxes(range=[low - 0.05 * span, high + 0.05 * span], row=row)


def _title(rows: pd.DataFrame, x: str, differences: bool) -> str:
    images = rows.groupby(["method", "attack", "criterion", "defence", "epsilon_255"], dropna=False)["image_id"].nunique()
    count = f"{images.min()}" if images.min() == images.max() else f"{images.min()}-{images.max()}"
    seeds = rows["seed"].nunique()
    averaged = f", {seeds} seeds averaged per image" if seeds > 1 else ""
    line = f"{rows['model'].iloc[0]}: {count} images{averaged}, {int(rows['steps'].iloc[0])} steps"
    if x != "epsilon_255":
        line += ", ε " + ", ".join(f"{eps:g}" for eps in sorted(set(rows["epsilon_255"]))) + "/255"
    detail = "mean of the runs that found a label-keeping perturbation (n/images where not all did), 95% t band"
    if differences:
        detail += "<br>below each: attack − random sign on the images where both found one, paired 95% band"
    return f"{line}<br><sup>{detail}</sup>"


def _add_line(figure, line: pd.DataFrame, x: str, name: str, color: str, dash: str, row: int, col: int,
              legend: bool, paired: bool) -> None:
    band = line.dropna(subset=["low", "high"])
    if len(band):
        figure.add_trace(go.Scatter(
            x=band[x].tolist() + band[x].tolist()[::-1],
            y=band["high"].tolist() + band["low"].tolist()[::-1], fill="toself",
            fillcolor=_transparent(color), mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False,
            legendgroup=name), row=row, col=col)
    symbol = SYMBOLS.get(x, x)
    if paired:
        counts = [f"n {n} images where both found one" for n in line["n"]]
        marks = None
    else:
        counts = [f"n {n} of {images} images, found in {found:.0%} of the runs"
                  for n, images, found in zip(line["n"], line["images"], line["found"])]
        marks = [f"{n}/{images}" if n < images else "" for n, images in zip(line["n"], line["images"])]
    figure.add_trace(go.Scatter(
        x=line[x].tolist(), y=line["mean"].tolist(), name=name, legendgroup=name,
        showlegend=legend, mode="lines+markers",
        line=dict(color=color, width=3 if not paired else 2, dash=dash),
        customdata=list(zip(line["low"], line["high"], counts)),
        hovertemplate=f"{symbol} %{{x}}: %{{y:.3f}} (95%: %{{customdata[0]:.3f}} to "
                      f"%{{customdata[1]:.3f}}), %{{customdata[2]}}<extra>{name}</extra>"), row=row, col=col)
    if marks and any(marks):
        figure.add_trace(go.Scatter(
            x=line[x].tolist(), y=line["mean"].tolist(), mode="text", text=marks, textposition="top center",
            textfont=dict(color=color, size=11), hoverinfo="skip", showlegend=False, legendgroup=name),
            row=row, col=col)


def _add_floor(figure, floor: pd.DataFrame, name: str, row: int, col: int, legend: bool) -> None:
    figure.add_trace(go.Scatter(
        x=floor["epsilon_255"].tolist(), y=floor["mean"].tolist(), name=name, legendgroup=name,
        showlegend=legend, mode="lines", line=dict(color=FLOOR_COLOR, width=2, dash="dot"),
        customdata=floor["n"].tolist(),
        hovertemplate="noise floor: %{y:.3f} (two noise draws on the unperturbed image, "
                      "n %{customdata} images)<extra></extra>"), row=row, col=col)


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


# ---------------------------------------------------------------- table and files

def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per configuration (seeds aside): images, found (share of the runs that found a
    label-keeping perturbation), n (images with one), labels kept, each metric's mean over
    the found runs (seeds averaged per image), and for an interpretation attack the paired
    difference from its random-sign baseline (attack − random sign, on `paired_n` images
    where both found one). k and beta are columns where the sweep varies them."""
    rows = _with_axes(rows)
    counts = aggregate(rows, "spearman")[[*POINT, "images", "found", "n"]]
    kept = rows.assign(label_kept=rows["label_kept"].astype(float)).groupby(
        POINT, dropna=False, sort=True)["label_kept"].mean().reset_index()
    table = counts.merge(kept, on=POINT, how="left")
    for metric in METRICS:
        table = table.merge(aggregate(rows, metric)[[*POINT, "mean"]].rename(columns={"mean": metric}),
                            on=POINT, how="left")
    differences = None
    for metric in METRICS:
        gap = paired(rows, metric)[[*POINT, "n", "mean"]].rename(
            columns={"n": "paired_n", "mean": f"{metric} − random sign"})
        differences = gap if differences is None else differences.merge(gap.drop(columns="paired_n"),
                                                                         on=POINT, how="outer")
    table = table.merge(differences, on=POINT, how="left").astype({"paired_n": "Int64"})
    varying = [name for name in PARAMETER_AXES if rows[name].nunique() > 1]
    table = table.drop(columns=[name for name in PARAMETER_AXES if name not in varying])
    first = ["method", "attack", "criterion", "defence", *varying, "epsilon_255"]
    table = table[first + [column for column in table.columns if column not in first]]
    table = table.sort_values(first, kind="stable")
    return table.rename(columns={"epsilon_255": "eps"}).reset_index(drop=True)


def write_figures(rows: pd.DataFrame, folder: str | Path) -> list[Path]:
    """curves.html/.png (every metric), one .html/.png per metric, and beta.html/.png (k.html)
    where the sweep varies beta (k), into `folder`.

    The HTML is interactive (plotly.min.js is written beside it once); the PNG needs a
    Chrome or Chromium for kaleido (BROWSER_PATH names one): without it, a warning and
    HTML only.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = _with_axes(rows)
    figures = {"curves": curves(rows), **{metric: curves(rows, [metric]) for metric in METRICS}}
    attacked = rows[rows["attack"] != BASELINE]
    figures.update({name: parameter_curves(rows, name) for name in PARAMETER_AXES
                    if attacked[name].nunique() > 1})
    written = []
    for name, figure in figures.items():
        path = folder / f"{name}.html"
        figure.write_html(path, include_plotlyjs="directory")
        written.append(path)
    pngs = [folder / f"{name}.png" for name in figures]
    try:
        import plotly.io as pio
        # the sizes said again: write_images draws every figure at 700 x 500 otherwise
        pio.write_images(list(figures.values()), pngs, scale=2,
                         width=[figure.layout.width for figure in figures.values()],
                         height=[figure.layout.height for figure in figures.values()])
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
