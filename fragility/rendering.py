"""Image and saliency-map tiles as Pillow images: the dashboard's tiles and exports, and the
CLI's panel, all with one colour scale."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from plotly.colors import sample_colorscale, unlabel_rgb

# One colour scale for every map in the dashboard (tiles, charts and the export).
COLORSCALE = "Inferno"
TILE = 320  # pixels on screen; small images are enlarged without smoothing


@lru_cache(maxsize=1)
def _palette() -> np.ndarray:
    """COLORSCALE sampled at 256 levels: (256, 3) uint8."""
    colors = sample_colorscale(COLORSCALE, [i / 255 for i in range(256)])
    return np.array([unlabel_rgb(c) for c in colors], dtype=np.uint8)


def to_pil(image: torch.Tensor, size: int = TILE) -> Image.Image:
    """(3,H,W) in [0,1] -> RGB image enlarged to `size` pixels."""
    array = (image.detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255).round()
    return _enlarge(Image.fromarray(array.astype(np.uint8)), size)


def heatmap(saliency: torch.Tensor) -> np.ndarray:
    """(H,W) map -> (H,W,3) uint8 colours, scaled to the map's own maximum."""
    values = saliency.detach().float().cpu()
    peak = float(values.max())
    levels = (values / peak * 255 if peak > 0 else values * 0).round().clamp(0, 255)
    return _palette()[levels.numpy().astype(np.uint8)]


def overlay(image: torch.Tensor, saliency: torch.Tensor, opacity: float,
            size: int = TILE) -> Image.Image:
    """The map's colours over a grey copy of the image; opacity 1 shows only the map."""
    grey = to_pil(image, size=saliency.shape[-1]).convert("L").convert("RGB")
    colours = Image.fromarray(heatmap(saliency)).resize(grey.size, Image.NEAREST)
    return _enlarge(Image.blend(grey, colours, opacity), size)


def perturbation(original: torch.Tensor, perturbed: torch.Tensor, epsilon: float,
                 size: int = TILE) -> Image.Image:
    """The difference, grey at 0 and stretched so that +-epsilon fills the range."""
    delta = (perturbed.detach().cpu().float() - original.detach().cpu().float())
    return to_pil(0.5 + delta / (2 * epsilon), size)


def map_tile(saliency: torch.Tensor, size: int = TILE) -> Image.Image:
    """A map on its own (no image under it), in the tiles' colours."""
    return _enlarge(Image.fromarray(heatmap(saliency)), size)


def attack_tiles(image: torch.Tensor | None, perturbed: torch.Tensor, original_map: torch.Tensor,
                 perturbed_map: torch.Tensor, config: dict, before: str, after: str,
                 size: int = TILE, opacity: float = 0.65) -> list[tuple[Image.Image, str]]:
    """An attack's tiles with their captions: original, perturbed, the perturbation
    amplified, both maps (and the target map). Without the original `image`, the tiles
    that need it are left out and the original map is drawn on its own."""
    epsilon = config["epsilon"]
    perturbed_tile = (to_pil(perturbed, size), f"perturbed\n{after}")
    after_tile = (overlay(perturbed, perturbed_map, opacity, size), f"after {config['attack']}")
    if image is None:
        return [perturbed_tile, (map_tile(original_map, size), f"{config['method']} map"), after_tile]
    tiles = [(to_pil(image, size), f"original\n{before}"), perturbed_tile,
             (perturbation(image, perturbed, epsilon, size),
              f"perturbation x{0.5 / epsilon:.0f}\n(grey = 0)" if epsilon > 0 else "perturbation\n(none)"),
             (overlay(image, original_map, opacity, size), f"{config['method']} map"), after_tile]
    if config.get("target_map") is not None:
        tiles.append((overlay(image, torch.tensor(config["target_map"])[0], 1.0, size), "target map"))
    return tiles


def colorbar(width: int = TILE, height: int = 14) -> Image.Image:
    """A horizontal strip of the colour scale, low to high."""
    strip = _palette()[np.linspace(0, 255, width).astype(np.uint8)][None].repeat(height, axis=0)
    return Image.fromarray(strip)


def contact_sheet(images: list[torch.Tensor], size: int, per_row: int, gap: int) -> Image.Image:
    """Images as `size`-pixel thumbnails with rounded corners, `per_row` to a row, on a
    transparent sheet: one picture to send instead of one per thumbnail."""
    rows = -(-len(images) // per_row)
    columns = min(len(images), per_row)
    sheet = Image.new("RGBA", (columns * size + (columns - 1) * gap, rows * size + (rows - 1) * gap))
    corners = Image.new("L", (size, size))
    ImageDraw.Draw(corners).rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 12, fill=255)
    for index, image in enumerate(images):
        row, column = divmod(index, per_row)
        square = to_pil(image, size=size).resize((size, size), Image.LANCZOS)
        sheet.paste(square, (column * (size + gap), row * (size + gap)), corners)
    return sheet


def png_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def panel(tiles: list[tuple[Image.Image, str]], title: str = "", footer: str = "") -> Image.Image:
    """Tiles side by side with a caption under each, a title on top and an optional footer
    line (white sheet)."""
    font, small = _font(30), _font(22)
    gap, top, bottom = 24, (70 if title else 24), 80 + (40 if footer else 0)
    width = gap + sum(tile.width + gap for tile, _ in tiles)
    height = top + max(tile.height for tile, _ in tiles) + bottom
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((gap, 18), title, fill="black", font=font)
    x = gap
    for tile, caption in tiles:
        sheet.paste(tile, (x, top))
        for line_number, line in enumerate(caption.split("\n")[:2]):
            draw.text((x, top + tile.height + 10 + 28 * line_number), line, fill="black", font=small)
        x += tile.width + gap
    if footer:
        draw.text((gap, height - 40), footer, fill="black", font=small)
    return sheet


def _enlarge(picture: Image.Image, size: int) -> Image.Image:
    if picture.width == size:
        return picture
    resample = Image.NEAREST if picture.width < size else Image.LANCZOS
    return picture.resize((size, round(size * picture.height / picture.width)), resample)


@lru_cache(maxsize=4)
def _font(size: int):
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                 "/usr/share/fonts/dejavu/DejaVuSans.ttf"):
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)
