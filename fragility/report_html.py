"""One self-contained HTML page of a result, and slide-ready pictures of it.

`report` writes what the notebook display shows (tiles, metrics beside their baselines,
the verdict) plus the configuration, a Python snippet that reproduces the run and the
charts, all inline: the page opens offline, from a file, with no server and no script.
`sweep_report` does the same for a sweep's results folder; `picture` draws a result's panel
or chart for a slide.
"""

from __future__ import annotations

import base64
import html as escaping
import json
from pathlib import Path

import torch

from . import display
from .errors import ConfigError

CALL_OPTIONS = ("method_options", "target", "mask", "defence", "defence_options")
PROJECTOR_FONT = 20          # px at 1600 px wide: readable from the back of a room
MIN_WIDTH = 320
PICTURE_KINDS = ("panel", "history")
PICTURE_FORMATS = ("png", "svg")
STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}"
         "td:first-child,th:first-child{text-align:left}pre{background:#f4f4f4;padding:1em;overflow:auto}"
         "img{max-width:100%}")


def report(result, path: str | Path | None = None, snippet: str | None = None) -> str:
    """The result as one HTML page; written to `path` (UTF-8) when given.

    Tiles and charts are inline PNGs (charts need kaleido with a Chrome or Chromium; without
    one the page says so and keeps the rest). `snippet` replaces the generated Python that
    reproduces the run (the dashboard passes its own, which knows how the model was loaded).
    """
    title = type(result).__name__
    sections = [display.html(result)]
    chart = _chart(result)
    if chart is not None:
        sections.append("<h2>Charts</h2>" + chart)
    config = getattr(result, "config", None)
    if config is not None:
        sections.append("<h2>Configuration</h2><pre>" +
                        _text(json.dumps(summarised(config), indent=1, default=str)) + "</pre>")
    code = snippet if snippet is not None else reproducing_snippet(result)
    if code:
        sections.append("<h2>Reproduce in Python</h2><pre><code>" + _text(code) + "</code></pre>")
    page = _page(f"fragility: {title}", sections)
    if path is not None:
        Path(path).write_text(page, encoding="utf-8")
    return page


def sweep_report(out: str | Path):
    """`fragility report OUT --html`: redraw OUT's figures and write OUT/report.html, the
    summary table and every figure inline (PNG; without kaleido's browser, the curves as
    Plotly HTML with its script inline, still offline). The summary table and the files
    written, the page last."""
    from .experiments.report import curves, read_results
    from .experiments.report import report as redraw

    table, files = redraw(out)
    sections = ["<h1>Sweep report</h1>", f"<p>{display._e(str(out))}</p>", "<h2>Summary</h2>",
                table.to_html(index=False, float_format=lambda value: f"{value:.3f}", border=0)]
    pngs = [path for path in files if path.suffix == ".png"]
    sections.append("<h2>Figures</h2>")
    for path in pngs:
        encoded = base64.b64encode(path.read_bytes()).decode()
        sections.append(f'<h3>{display._e(path.stem)}</h3><img src="data:image/png;base64,{encoded}" '
                        f'alt="{display._e(path.stem)}">')
    if not pngs:
        sections.append(curves(read_results(out)).to_html(include_plotlyjs=True, full_html=False))
    page_path = Path(out) / "report.html"
    page_path.write_text(_page("fragility: sweep report", sections), encoding="utf-8")
    return table, [*files, page_path]


def _page(title: str, sections: list[str]) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{display._e(title)}'
            f"</title><style>{STYLE}</style></head><body>\n" + "\n".join(sections) + "\n</body></html>\n")


def picture(result, kind: str = "panel", width: int = 1600, format: str = "png") -> bytes:
    """A slide-ready picture of an AttackResult: "panel" (the tiles with their captions, PNG
    only) or "history" (the per-step chart, PNG or SVG), `width` pixels wide, with text of
    at least 18 px at 1600 px (scaled with the width)."""
    from .attacks.result import AttackResult

    if kind not in PICTURE_KINDS:
        raise ConfigError(f"picture kind {kind!r} is not one of {', '.join(PICTURE_KINDS)}")
    if format not in PICTURE_FORMATS:
        raise ConfigError(f"picture format {format!r} is not one of {', '.join(PICTURE_FORMATS)}")
    check_width(width)
    if not isinstance(result, AttackResult):
        raise ConfigError(f"fg.picture draws an AttackResult, got {type(result).__name__}")
    font = round(PROJECTOR_FONT * width / 1600)
    if kind == "history":
        figure = display.plot(result)
        figure.update_layout(font=dict(size=font), width=width, height=round(width * 0.45))
        figure.update_annotations(font_size=font + 2)
        return figure.to_image(format=format, width=width, height=round(width * 0.45))
    if format != "png":
        raise ConfigError(f"the panel is a raster image: format 'png', got {format!r}")
    return _panel_png(result, width, font)


def check_width(width) -> None:
    """A picture's width: an integer number of pixels, at least MIN_WIDTH."""
    if isinstance(width, bool) or not isinstance(width, int) or width < MIN_WIDTH:
        raise ConfigError(f"picture width must be an integer of at least {MIN_WIDTH} pixels, got {width!r}")


def summarised(value):
    """`value` for a page: small tensors as lists, larger ones as their shape and range."""
    if isinstance(value, torch.Tensor):
        if value.numel() <= 8:
            return value.tolist()
        data = value.detach().double()
        return (f"tensor of shape {list(value.shape)}, min {float(data.min()):.4g}, "
                f"max {float(data.max()):.4g}")
    if isinstance(value, dict):
        return {str(key): summarised(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [summarised(item) for item in value]
    return value


def reproducing_snippet(result) -> str | None:
    """fg.attack with the result's settings (its attack's declared parameters and the call's
    options); None for other result types. Tensors (a region, a target map, a mask) are named
    in a comment: the page holds their summary, not their values."""
    from .attacks import get_attack
    from .attacks.result import AttackResult

    if not isinstance(result, AttackResult):
        return None
    config = result.config
    try:
        declared = [parameter.name for parameter in get_attack(config.get("attack")).parameters]
    except ConfigError:
        declared = []
    names = [name for name in [*declared, *CALL_OPTIONS] if name in config and config[name] is not None]
    tensors = [name for name in names if isinstance(config[name], torch.Tensor)]
    arguments = [f"    {name}={config[name]!r}," for name in names if name not in tensors
                 and config[name] != {}]
    if getattr(result, "baseline", None) is not None:
        arguments.append("    baseline=True,")
    lines = ["import fragility as fg", "", "model = fg.load_model(...)   # the model of this run",
             "images = ...                 # the same images, a (N, 3, H, W) tensor in [0, 1]"]
    if tensors:
        lines.append(f"# also pass this run's {', '.join(tensors)} (tensors) again")
    lines += ["", f"result = fg.attack(model, images, method={config.get('method')!r}, "
                  f"attack={config.get('attack')!r},", *arguments, ")"]
    return "\n".join(lines) + "\n"


def _text(value: str) -> str:
    return escaping.escape(value, quote=False)     # element content: quotes stay readable


def _chart(result) -> str | None:
    try:
        figure = display.plot(result)
    except ConfigError:
        return None                                  # a result type without a chart
    try:
        width = figure.layout.width or 1000
        height = figure.layout.height or 400
        png = figure.to_image(format="png", width=width, height=height)
    except Exception as error:  # no browser for kaleido, or kaleido itself failing
        return ("<p><small>charts left out: drawing them needs kaleido with Chrome or Chromium "
                f"({display._e(error)})</small></p>")
    encoded = base64.b64encode(png).decode()
    return f'<img src="data:image/png;base64,{encoded}" width="{width}" alt="charts of the run">'


def _panel_png(result, width: int, font: int) -> bytes:
    from PIL import Image

    view = display._view(result, with_tiles=True)
    tiles = [picture for picture, _ in view.tiles]
    if not tiles:
        raise ConfigError("this result has no tiles to draw (no label-keeping perturbation found)")
    gap = max(width // 100, 4)
    size = (width - gap * (len(tiles) + 1)) // len(tiles)
    caption_height = font * 3 + gap
    canvas = Image.new("RGB", (width, size + caption_height + gap * 2 + font * 2), "white")
    draw = _draw(canvas)
    text_font = _font(font)
    draw.text((gap, gap), view.title, fill="black", font=text_font)
    top = gap * 2 + font
    for (tile, caption), x in zip(view.tiles, range(gap, width, size + gap)):
        canvas.paste(tile.resize((size, size), Image.NEAREST), (x, top))
        for line_number, line in enumerate(caption.split("\n")[:2]):
            draw.text((x, top + size + gap + line_number * (font + 4)), line, fill="black", font=text_font)
    return _png(canvas)


def _draw(canvas):
    from PIL import ImageDraw
    return ImageDraw.Draw(canvas)


def _font(size: int):
    from PIL import ImageFont
    return ImageFont.load_default(size=size)


def _png(image) -> bytes:
    from .rendering import png_bytes
    return png_bytes(image)
