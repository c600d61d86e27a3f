"""Results in a notebook: `_repr_html_` (the dashboard's tiles as inline PNGs, the metrics
beside their baselines, a one-line verdict), an 80-column `__repr__`, and `plot`, the
dashboard's charts of a result.

Every result type delegates here, so its own module keeps only the data. Pillow and
Plotly are imported when something is drawn, which keeps `import fragility` light.
"""

from __future__ import annotations

import base64
import html as escaping
import math
import textwrap
from dataclasses import dataclass, field

import torch

from .errors import ConfigError

TILE = 160        # pixels per tile in a notebook: five fit side by side
MAP_TILE = 112    # the sanity checks show one tile per layer or method
WIDTH = 80        # the plain-text repr fits a terminal
DASH = "-"
# Display heuristics for the verdicts, not thresholds of any paper: an attack "far more"
# than its reference when it lowers Spearman by twice as much and by 0.1 at least; a
# sanity map "changed" below Spearman 0.5; a data-randomised map "changed" when it lies
# 0.25 below its noise floor.
FAR_MORE, AT_LEAST = 2.0, 0.1
CHANGED, UNCHANGED = 0.5, 0.9
BELOW_FLOOR = 0.25
ATTACK_METRICS = (("spearman", "Spearman", "{:.3f}"), ("top_k_intersection", "top-k intersection", "{:.3f}"),
                  ("center_shift", "center shift (px)", "{:.2f}"))
SANITY_METRICS = (("spearman", "Spearman"), ("ssim", "SSIM"), ("hog", "HOG"),
                  ("top_k_intersection", "top-k"))


@dataclass
class View:
    """What a result shows: the same in HTML and in plain text (the tiles only in HTML)."""
    name: str
    title: str
    verdict: str
    columns: list[str]                               # the table's headers
    rows: list[list[str]]                            # one per line, first cell the name
    tiles: list = field(default_factory=list)        # (PIL image, caption) pairs
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- entry points

def html(result) -> str:
    """The result's rich display: title, verdict, tiles, metrics table and notes."""
    view = _view(result, with_tiles=True)
    parts = [f'<div class="fragility-result"><p><b>{_e(view.name)}</b>: {_e(view.title)}</p>',
             f"<p><i>{_e(view.verdict)}</i></p>"]
    if view.tiles:
        parts.append('<div style="display:flex;flex-wrap:wrap;gap:8px">')
        parts += [_figure(picture, caption) for picture, caption in view.tiles]
        parts.append("</div>")
    if view.rows:
        head = "".join(f"<th>{_e(column)}</th>" for column in view.columns)
        body = "".join("<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>"
                       for row in view.rows)
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts += [f"<p><small>{_e(note)}</small></p>" for note in view.notes]
    return "\n".join(parts) + "\n</div>"


def text(result) -> str:
    """The plain-text repr: every line at most 80 characters."""
    view = _view(result, with_tiles=False)
    lines = textwrap.wrap(f"{view.name}: {view.title}", WIDTH, subsequent_indent="  ")
    lines += textwrap.wrap(view.verdict, WIDTH, initial_indent="  ", subsequent_indent="  ")
    if view.rows:
        first = min(24, max(len(row[0]) for row in [view.columns, *view.rows]))
        other = min(14, (WIDTH - 2 - first) // max(len(view.columns) - 1, 1))
        for row in [view.columns, *view.rows]:
            cells = [_fit(row[0], first).ljust(first)] + [_fit(cell, other - 1).rjust(other) for cell in row[1:]]
            lines.append(("  " + "".join(cells)).rstrip())
    for note in view.notes:
        lines += textwrap.wrap(note, WIDTH, initial_indent="  ", subsequent_indent="  ")
    return "\n".join(lines)


def plot(result, baseline=None):
    """A Plotly figure of `result`, drawn by the dashboard's chart code.

    AttackResult and InfluenceResult: the best-so-far Spearman and top-k intersection of
    image 0 at each step, with the random-sign baseline's (`baseline`, else
    `result.baseline` if the result has one). SanityResult: each similarity per
    randomised layer; DataRandomizationResult: per method with its noise floor; a sweep's
    rows (a DataFrame): the paper-style curves over epsilon.
    """
    from . import figures
    from .attacks.result import AttackResult
    from .influence import InfluenceResult
    from .sanity import DataRandomizationResult, SanityResult

    if isinstance(result, (AttackResult, InfluenceResult)):
        return _history(result, baseline if baseline is not None else getattr(result, "baseline", None))
    if isinstance(result, SanityResult):
        values = {name: result.metrics[name][:, 0].tolist() for name in figures.SANITY_METRICS}
        x_title = ("randomised from the top down to layer" if result.config.get("mode") == "cascading"
                   else "randomised layer (the others trained)")
        return figures.per_layer(list(result.layers), values, x_title, result.config.get("k"))
    if isinstance(result, DataRandomizationResult):
        values = {name: [float(result.metrics[m][name][0]) for m in result.methods]
                  for name in figures.SANITY_METRICS}
        levels = result.control_metrics or result.noise_floor
        floors = {name: [float(levels[m][name][0]) for m in result.methods]
                  for name in figures.SANITY_METRICS}
        return figures.per_method(list(result.methods), values, floors, result.config.get("k"),
                                  "control model" if result.control_metrics else "noise floor")
    if _is_sweep_rows(result):
        from .experiments.report import curves
        return curves(result)
    raise ConfigError(f"fg.plot draws an AttackResult, InfluenceResult, SanityResult, "
                      f"DataRandomizationResult or a sweep's rows (a DataFrame), got "
                      f"{type(result).__name__}")


def _history(result, baseline):
    from plotly.subplots import make_subplots

    from . import figures

    total = int(result.config.get("steps", result.steps_run) or result.steps_run)
    k = result.config.get("k")
    history = [row for row in result.history if "spearman" in row]
    reference = [] if baseline is None else baseline.history
    charts = [("spearman", "Spearman rank correlation per step"),
              ("top_k_intersection", f"Top-{k} intersection per step" if k else "Top-k intersection per step")]
    figure = make_subplots(rows=1, cols=2, subplot_titles=[title for _, title in charts])
    for column, (metric, title) in enumerate(charts, start=1):
        chart = figures.per_step(history, reference, metric, title, total)
        for trace in chart.data:
            trace.showlegend = column == 1
            figure.add_trace(trace, row=1, col=column)
        figure.update_xaxes(title="step", range=list(chart.layout.xaxis.range), row=1, col=column)
        figure.update_yaxes(range=list(chart.layout.yaxis.range), row=1, col=column)
    figure.update_layout(font=figures.FONT, height=360, margin=dict(l=10, r=10, t=60, b=10),
                         legend=dict(orientation="h", yanchor="bottom", y=1.08, x=1, xanchor="right"))
    return figure


def _is_sweep_rows(value) -> bool:
    columns = getattr(value, "columns", None)
    return columns is not None and {"method", "attack", "epsilon_255"} <= set(columns)


# ---------------------------------------------------------------- one view per result type

def _view(result, with_tiles: bool) -> View:
    from .attacks.result import AttackResult
    from .influence import InfluenceResult
    from .manipulation import ManipulationResult
    from .sanity import DataRandomizationResult, SanityResult

    for kind, build in ((AttackResult, _attack), (SanityResult, _sanity),
                        (DataRandomizationResult, _data), (InfluenceResult, _influence),
                        (ManipulationResult, _manipulation)):
        if isinstance(result, kind):
            return build(result, with_tiles)
    raise ConfigError(f"no display for {type(result).__name__}")


def _attack(result, with_tiles: bool) -> View:
    config = result.config
    n = len(result.found)
    found = result.found.detach().cpu().bool()
    baseline = getattr(result, "baseline", None)
    floor = result.noise_floor
    kind = _attack_kind(config.get("attack", ""))
    epsilon = config.get("epsilon")
    title = (f"{config.get('attack', '?')} on {config.get('method', '?')}"
             + (f", eps {epsilon * 255:g}/255" if epsilon is not None else "")
             + f", {result.steps_run} steps, {_images(n)}")
    columns = ["", "attack"] + (["random sign"] if baseline is not None else []) + \
        (["noise floor"] if floor is not None else [])
    rows = []
    for name, label, form in ATTACK_METRICS:
        if name not in result.metrics:
            continue
        row = [label, _mean(result.metrics[name], found, form)]
        if baseline is not None:
            row.append(_mean(baseline.metrics[name], baseline.found.detach().cpu().bool(), form))
        if floor is not None:
            row.append(_mean(floor[name], torch.ones(n, dtype=torch.bool), form))
        rows.append(row)
    kept = ["labels kept", f"{int(result.labels_kept.sum())}/{n}"]
    if baseline is not None:
        kept.append(f"{int(baseline.labels_kept.sum())}/{len(baseline.labels_kept)}")
    rows.append(kept + [""] * (len(columns) - len(kept)))
    notes = []
    if n > 1:
        notes.append(f"Tiles: image 1 of {n}." + (f" Metrics: the mean over the {int(found.sum())} "
                                                  "images where a perturbation was found."
                                                  if bool(found.any()) else ""))
    tiles = []
    images = getattr(result, "images", None)
    if images is None:
        notes.append("The original and perturbation tiles need result.images (fg.attack sets it).")
    if with_tiles:
        from . import rendering
        tiles = rendering.attack_tiles(
            None if images is None else images[0], result.perturbed[0], result.original_maps[0],
            result.perturbed_maps[0], {**config, "epsilon": epsilon or 0.0},
            f"label {int(result.labels[0])}", f"label {int(result.perturbed_labels[0])}", size=TILE)
    return View("AttackResult", title, _attack_verdict(result, found, baseline, floor, kind),
                columns, rows, tiles, notes)


def _attack_verdict(result, found, baseline, floor, kind: str) -> str:
    steps = result.steps_run
    if not bool(found.any()):
        if kind == "label":
            return f"no label-changing perturbation found in {steps} steps"
        return (f"no label-keeping perturbation found in {steps} steps: the perturbed image is "
                "the original")
    spearman = _average(result.metrics["spearman"], found)
    if kind == "label":
        return (f"the label changed on {int(found.sum())} of {len(found)} images; the map's "
                f"Spearman with the original is {spearman:.2f}")
    if kind == "baseline":
        return f"random sign noise of this size leaves the map at Spearman {spearman:.2f} (1 = unchanged)"
    if baseline is not None and bool(baseline.found.any()):
        reference, what = _average(baseline.metrics["spearman"], baseline.found.bool()), \
            "random noise of the same size"
    elif floor is not None:
        reference, what = _average(floor["spearman"], torch.ones(len(found), dtype=torch.bool)), \
            "the method's own noise (its noise floor)"
    else:
        return (f"the attack lowered the map's Spearman to {spearman:.2f} (1 = unchanged); run "
                "random sign of the same eps to compare with noise")
    drop, reference_drop = 1 - spearman, 1 - reference
    if drop >= FAR_MORE * reference_drop and drop - reference_drop >= AT_LEAST:
        how = "far more than"
    elif drop > reference_drop:
        how = "more than, but not far more than,"
    else:
        how = "no more than"
    return f"the attack moved the map {how} {what} (Spearman {spearman:.2f} against {reference:.2f})"


def _sanity(result, with_tiles: bool) -> View:
    config = result.config
    n = len(result.labels)
    title = (f"{config.get('mode', '?')} randomisation of {config.get('method', '?')}, "
             f"{len(result.layers)} layers, {_images(n)}")
    rows = [[layer] + [_nanmean_text(result.metrics[name][step]) for name, _ in SANITY_METRICS]
            for step, layer in enumerate(result.layers)]
    if not result.layers:
        verdict = "no layer was randomised"
    else:
        per_step = [_nanmean(values) for values in result.metrics["spearman"]]
        if result.config.get("mode") == "independent":   # each step randomises one layer
            step = min(range(len(per_step)), key=lambda i: per_step[i])
            last, where = per_step[step], f"Spearman {per_step[step]:.2f} at lowest, layer {result.layers[step]!r}"
        else:                                            # the last step: every layer random
            last, where = per_step[-1], f"Spearman {per_step[-1]:.2f} with every layer random"
        if last < CHANGED:
            verdict = (f"the maps changed as the layers were randomised ({where}): the method "
                       "depends on the learned weights, as an explanation should")
        elif last < UNCHANGED:
            verdict = f"the maps changed somewhat as the layers were randomised ({where})"
        else:
            verdict = (f"the maps barely changed as the layers were randomised ({where}): the "
                       "method hardly depends on the learned weights")
    notes = ["Similarity to the trained network's map (1 = the same map)"
             + (f", the mean over {n} images." if n > 1 else ".")]
    tiles = []
    if with_tiles:
        from . import rendering
        tiles = [(rendering.map_tile(result.original_maps[0], MAP_TILE), "trained")]
        tiles += [(rendering.map_tile(maps[0], MAP_TILE), layer) for layer, maps in zip(result.layers, result.maps)]
    return View("SanityResult", title, verdict, ["layer"] + [label for _, label in SANITY_METRICS],
                rows, tiles, notes)


def _data(result, with_tiles: bool) -> View:
    n = len(result.labels)
    title = f"data randomisation, {len(result.methods)} methods, {_images(n)}"
    if result.control_metrics:
        return _data_against_control(result, title, with_tiles)
    rows, changed, kept = [], [], []
    for method in result.methods:
        value, floor = _nanmean(result.metrics[method]["spearman"]), _nanmean(result.noise_floor[method]["spearman"])
        rows.append([method, _number(value), _number(floor),
                     _nanmean_text(result.metrics[method]["ssim"]),
                     _nanmean_text(result.noise_floor[method]["ssim"])])
        (changed if floor - value >= BELOW_FLOOR else kept).append(method)
    if not result.methods:
        verdict = "no method was run"
    elif not kept:
        verdict = "every method's maps are far from the trained model's, but without a control model that proves little"
    else:
        verdict = (f"without a control model there is no verdict; {', '.join(kept)} barely moved "
                   "from the noise floor")
    notes = ["Trained against shuffled-label model, beside the noise floor (the trained model "
             "against itself, which is not a control: pass control_model=, for the bundled model "
             "load_model(\"bundled-control\"))" + (f"; the mean over {n} images." if n > 1 else ".")]
    return View("DataRandomizationResult", title, verdict,
                ["method", "Spearman", "noise floor", "SSIM", "noise floor"], rows,
                _data_tiles(result, with_tiles, control=False), notes)


def _data_against_control(result, title: str, with_tiles: bool) -> View:
    n = len(result.labels)
    passes = result.below_control()
    rows = [[method, _number(_nanmean(result.metrics[method]["spearman"])),
             _number(_nanmean(result.control_metrics[method]["spearman"])),
             "yes" if passes[method] else "no"] for method in result.methods]
    changed = [method for method in result.methods if passes[method]]
    kept = [method for method in result.methods if not passes[method]]
    if not result.methods:
        verdict = "no method was run"
    elif not kept:
        verdict = ("every method's maps are further from the trained model's on the shuffled-label "
                   "model than on the control: they depend on what was learned")
    elif not changed:
        verdict = ("no method's maps are clearly further from the trained model's on the "
                   "shuffled-label model than on the control")
    else:
        verdict = (f"the maps of {', '.join(changed)} depend on the labels learned (the shuffled "
                   f"model's are further off than the control's); those of {', '.join(kept)} do "
                   "not clearly")
    notes = ["Spearman of each model's maps with the trained model's: the shuffled-label model, "
             "and the control (the shuffled model's recipe on the true labels, another seed); a "
             "method passes when the control is closer by more than 2 standard errors over the "
             "images" + (f"; the mean over {n} images." if n > 1 else " (one image decides nothing).")]
    return View("DataRandomizationResult", title, verdict,
                ["method", "Spearman, shuffled", "Spearman, control", "passes"], rows,
                _data_tiles(result, with_tiles, control=True), notes)


def _data_tiles(result, with_tiles: bool, control: bool) -> list:
    if not with_tiles:
        return []
    from . import rendering
    tiles = []
    for method in result.methods:
        tiles += [(rendering.map_tile(result.original_maps[method][0], MAP_TILE), f"{method}\ntrained"),
                  (rendering.map_tile(result.shuffled_maps[method][0], MAP_TILE), f"{method}\nshuffled")]
        if control:
            tiles.append((rendering.map_tile(result.control_maps[method][0], MAP_TILE), f"{method}\ncontrol"))
    return tiles


def _influence(result, with_tiles: bool) -> View:
    config = result.config
    n = len(result.found)
    found = result.found.detach().cpu().bool()
    baseline = result.baseline
    epsilon, k = config.get("epsilon"), config.get("k")
    title = (f"influence attack" + (f", eps {epsilon * 255:g}/255" if epsilon is not None else "")
             + f", {result.steps_run} steps, k = {k}, {_images(n)}")
    names = (("spearman", "Spearman"), ("top_k_intersection", "top-k intersection"),
             ("top_k_influence_before", "top-k influence before"),
             ("top_k_influence_after", "top-k influence after"))
    columns = ["", "attack"] + (["random sign"] if baseline is not None else [])
    rows = []
    for name, label in names:
        row = [label, _mean(result.metrics[name], found, "{:.3g}")]
        if baseline is not None:
            row.append(_mean(baseline.metrics[name], baseline.found.detach().cpu().bool(), "{:.3g}"))
        rows.append(row)
    if not bool(found.any()):
        verdict = (f"no label-keeping perturbation lowered the influence of the {k} most helpful "
                   f"training images in {result.steps_run} steps")
    else:
        before = _average(result.metrics["top_k_influence_before"], found)
        after = _average(result.metrics["top_k_influence_after"], found)
        verdict = (f"the attack lowered the summed influence of the {k} most helpful training "
                   f"images from {before:.3g} to {after:.3g}")
        if baseline is not None and bool(baseline.found.any()):
            verdict += (f"; random noise of the same size: "
                        f"{_average(baseline.metrics['top_k_influence_after'], baseline.found.bool()):.3g}")
    tiles = []
    if with_tiles:
        from . import rendering
        tiles = [(rendering.to_pil(result.perturbed[0], TILE), f"perturbed\nlabel {int(result.perturbed_labels[0])}")]
    return View("InfluenceResult", title, verdict, columns, rows, tiles)


def _manipulation(result, with_tiles: bool) -> View:
    config = result.config
    region = config.get("region", "?")
    title = (f"a copy of {config.get('model', '?')} fine-tuned to put its gradient maps in the "
             f"{region} region, {len(result.history)} steps")
    if not result.history:
        return View("ManipulationResult", title, "no step was run", [], [])
    first, last = result.history[0], result.history[-1]
    rows = [[label, f"{first[name]:.3g}", f"{last[name]:.3g}"]
            for name, label in (("mass", "mass in region"), ("distillation", "distillation"),
                                ("loss", "loss"))]
    verdict = (f"the copy's gradient maps put {last['mass']:.0%} of their mass in the {region} "
               f"region, from {first['mass']:.0%} at the first step")
    notes = ["Measured on each step's training batch, on the softplus surrogate; "
             "fg.manipulation.evaluate measures the real network."]
    return View("ManipulationResult", title, verdict, ["", "first step", "last step"], rows, [], notes)


# ---------------------------------------------------------------- small helpers

def _attack_kind(name: str) -> str:
    from .attacks import get_attack
    try:
        return get_attack(name).kind
    except ConfigError:
        return "interpretation"


def _images(n: int) -> str:
    return f"{n} image" + ("" if n == 1 else "s")


def _average(values: torch.Tensor, chosen: torch.Tensor) -> float:
    return float(values.detach().cpu().double()[chosen].mean())


def _mean(values: torch.Tensor, chosen: torch.Tensor, form: str) -> str:
    return form.format(_average(values, chosen)) if bool(chosen.any()) else DASH


def _nanmean(values: torch.Tensor) -> float:
    return float(values.detach().cpu().double().nanmean())


def _number(value: float) -> str:
    return DASH if math.isnan(value) else f"{value:.3f}"


def _nanmean_text(values: torch.Tensor) -> str:
    return _number(_nanmean(values))


def _fit(cell: str, width: int) -> str:
    return cell if len(cell) <= width else cell[:max(width - 1, 1)] + "…"


def _e(value: str) -> str:
    return escaping.escape(str(value))


def _figure(picture, caption: str) -> str:
    from .rendering import png_bytes
    encoded = base64.b64encode(png_bytes(picture)).decode()
    lines = "<br>".join(_e(line) for line in caption.split("\n"))
    return (f'<figure style="margin:0;text-align:center"><img src="data:image/png;base64,{encoded}" '
            f'width="{picture.width}" alt="{_e(caption.splitlines()[0])}">'
            f"<figcaption><small>{lines}</small></figcaption></figure>")
