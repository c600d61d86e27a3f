"""load_image(): any image source -> a validated (3,H,W) float32 tensor in [0,1]."""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.transforms.v2 import functional as TF

from .errors import InputError
from .validation import check_number

# Larger images are refused before decoding (a decompression bomb declares a huge size).
MAX_PIXELS = 40_000_000
# The file types read, as file name extensions; FORMATS says the same in words.
EXTENSIONS = ("png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff")
FORMATS = "PNG, JPEG, WebP, GIF, BMP or TIFF"
# A large file is first shrunk to at least this many times the size asked for (by block
# averaging, or JPEG's DCT scaling); the exact antialiased resize then matches a resize
# of the full image to within a fraction of a grey level.
_MARGIN = 4
_PIL_PIXELS = re.compile(r"\((\d+) pixels\)")


def load_image(source: object, size: int | None = None, *, name: str | None = None) -> torch.Tensor:
    """Read a path, str, bytes, PIL image, numpy array (H,W[,C]) or tensor ([C,]H,W).

    Returns (3,H,W) float32 in [0,1]. Transparency is composited on white, grayscale is
    repeated to RGB, the first frame of an animation is used, EXIF rotation is applied.
    With `size`, resize like torchvision's eval transforms: the shorter side to `size`,
    then a centre crop of size x size; a large file is shrunk while it is decoded, so
    its full-size pixels are never held as floats. `name` is what messages call the
    source (a file name for bytes). Unusable input raises InputError.
    """
    if size is not None:
        size = check_number(size, "size", low=2, high=4096, integer=True)
    if isinstance(source, torch.Tensor):
        image = _from_array(source.detach().cpu().numpy(), channels_first=True, what="tensor")
    elif isinstance(source, np.ndarray):
        image = _from_array(source, channels_first=False, what="array")
    elif isinstance(source, Image.Image):
        image = _from_pil(source, name or "the PIL image", size)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        image = _from_bytes(bytes(source), name or "the data", size)
    elif isinstance(source, (str, Path)):
        image = _from_path(Path(source).expanduser(), size)
    else:
        raise InputError(f"cannot read an image from a {type(source).__name__}; give a path, "
                         "bytes, a PIL image, a numpy array or a torch tensor")
    if size is not None:
        image = TF.center_crop(TF.resize(image, size, antialias=True), [size, size]).clamp(0, 1)
    return image.contiguous()


def _from_path(path: Path, size: int | None) -> torch.Tensor:
    if path.is_dir():
        raise InputError(f"{path} is a folder, not an image file")
    if not path.is_file():
        raise InputError(f"no such image file: {path}")
    return _from_bytes(path.read_bytes(), str(path), size)


def _from_bytes(data: bytes, name: str, size: int | None) -> torch.Tensor:
    if not data:
        raise InputError(f"{name} is empty (0 bytes); expected a {FORMATS} image")
    head = data[:512].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) or b"<svg" in head:
        raise InputError(f"{name} is an SVG (vector) image; export it as PNG or JPEG first")
    try:
        image = _open(data, name)
        if size is not None and image.format == "JPEG":
            # decode at a fraction of the size where JPEG allows it (DCT scaling)
            scale = _MARGIN * size / min(image.size)
            image.draft(image.mode, (int(image.size[0] * scale) + 1,
                                     int(image.size[1] * scale) + 1))
        return _from_pil(image, name, size, owned=True)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        if isinstance(error, InputError):
            raise
        if isinstance(error, UnidentifiedImageError):
            kind = "text or HTML" if _looks_like_text(data) else "not a recognised image format"
            raise InputError(f"{name} is not an image ({kind}); expected a {FORMATS} file") from None
        raise InputError(f"{name} is a damaged or truncated image ({error})") from None


def _open(data: bytes, name: str) -> Image.Image:
    """Image.open with Pillow's decompression-bomb check reported against MAX_PIXELS."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        found = _PIL_PIXELS.search(str(error))
        declared = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise InputError(f"{name} declares an image of {declared}, more than the limit of "
                         f"{MAX_PIXELS:,} pixels; downscale it first") from None


def _shrink(image: Image.Image, size: int) -> Image.Image:
    """Average blocks of pixels down to at least _MARGIN x `size` on the shorter side.

    The exact antialiased resize to `size` follows on the small image, so the result
    stays that of a resize of the full image while memory stays that of the small one.
    """
    factor = min(image.size) // (_MARGIN * size)
    if factor < 2:
        return image
    if image.mode in ("P", "PA", "1", "I;16", "I;16B", "I;16L", "I;16N"):
        # palette indices and bit-packed pixels cannot be averaged: convert first
        alpha = image.mode == "PA" or (image.mode == "P" and "transparency" in image.info)
        image = image.convert({"1": "L", "P": "RGBA" if alpha else "RGB", "PA": "RGBA"}.get(
            image.mode, "I"))
    return image.reduce(factor)


def _looks_like_text(data: bytes) -> bool:
    try:
        data[:1024].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _from_pil(image: Image.Image, name: str, size: int | None = None,
              owned: bool = False) -> torch.Tensor:
    """`owned`: an image opened here, which may be changed in place (no full-size copy)."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise InputError(f"{name} is {width}x{height} pixels, more than the limit of "
                         f"{MAX_PIXELS:,} pixels; downscale it first")
    if width < 2 or height < 2:
        raise InputError(f"{name} is {width}x{height} pixels; at least 2x2 is needed")
    image.seek(0)  # the first frame of an animation
    image.load()  # decode now: truncated data fails here, inside our error handling
    if owned:
        ImageOps.exif_transpose(image, in_place=True)
    else:
        image = ImageOps.exif_transpose(image)
    if size is not None:
        image = _shrink(image, size)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        pixels = np.asarray(image, dtype=np.float64) / 65535.0
        return _from_array(pixels.clip(0, 1), channels_first=False, what=name)
    if image.mode == "F":
        return _from_array(np.asarray(image), channels_first=False, what=name)
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
            image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div(255.0)


def _from_array(array: np.ndarray, channels_first: bool, what: str) -> torch.Tensor:
    if array.dtype == np.bool_:
        array = array.astype(np.float32)
    if array.ndim == 2:
        array = array[None] if channels_first else array[:, :, None]
    if array.ndim != 3:
        layout = "(C,H,W) or (H,W)" if channels_first else "(H,W,C) or (H,W)"
        raise InputError(f"the {what} has shape {array.shape}; expected {layout} with C = 1, 3 or 4")
    if not channels_first:
        array = array.transpose(2, 0, 1)
    channels = array.shape[0]
    if channels not in (1, 3, 4):
        raise InputError(f"the {what} has {channels} channels (shape {array.shape}); "
                         "expected 1 (gray), 3 (RGB) or 4 (RGBA)")
    if array.shape[1] < 2 or array.shape[2] < 2:
        raise InputError(f"the {what} is {array.shape[2]}x{array.shape[1]} pixels; at least 2x2 is needed")
    if array.shape[1] * array.shape[2] > MAX_PIXELS:
        raise InputError(f"the {what} has more than {MAX_PIXELS:,} pixels; downscale it first")
    image = torch.from_numpy(_unit_range(array, what))
    if channels == 4:  # composite on white
        alpha = image[3:]
        image = image[:3] * alpha + (1 - alpha)
    elif channels == 1:
        image = image.expand(3, -1, -1)
    return image.float().clone()


def _unit_range(array: np.ndarray, what: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if not np.issubdtype(array.dtype, np.floating):
        raise InputError(f"the {what} has dtype {array.dtype}; use uint8 (0-255), uint16 or "
                         "floats in [0,1]")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise InputError(f"the {what} contains NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 1:
        raise InputError(f"the {what} has values in [{low:.4g}, {high:.4g}]; floats must lie in "
                         "[0,1] (use uint8 for 0-255)")
    return array
