import io
import re
import os
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from fragility.errors import ConfigError, InputError
from fragility.images import MAX_PIXELS, load_image


def _gradient_rgb(width=40, height=30):
    x = np.linspace(0, 255, width, dtype=np.uint8)
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[..., 0] = x
    pixels[..., 1] = 255 - x
    pixels[..., 2] = 128
    return pixels


def _save(image, path, **kwargs):
    image.save(path, **kwargs)
    return path


def _check(image, height, width):
    assert image.shape == (3, height, width) and image.dtype == torch.float32
    assert image.min() >= 0 and image.max() <= 1


def test_png_path_str_bytes_pil_array_tensor_agree(tmp_path):
    pixels = _gradient_rgb()
    path = _save(Image.fromarray(pixels), tmp_path / "a.png")
    expected = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
    for source in (path, str(path), path.read_bytes(), Image.open(path), pixels, expected,
                   torch.from_numpy(pixels).permute(2, 0, 1).contiguous()):
        image = load_image(source)
        _check(image, 30, 40)
        assert torch.allclose(image, expected, atol=1e-6)


def test_rgba_is_composited_on_white(tmp_path):
    pixels = np.zeros((10, 12, 4), dtype=np.uint8)
    pixels[..., 0] = 255          # red
    pixels[:, :6, 3] = 0          # left half fully transparent
    pixels[:, 6:, 3] = 255
    image = load_image(_save(Image.fromarray(pixels, "RGBA"), tmp_path / "a.png"))
    assert torch.allclose(image[:, :, :6], torch.ones(3, 10, 6))
    assert torch.allclose(image[:, :, 6:], torch.tensor([1.0, 0, 0]).view(3, 1, 1).expand(3, 10, 6))
    # a float RGBA array half transparent: halfway to white
    array = np.zeros((4, 4, 4), dtype=np.float32)
    array[..., 3] = 0.5
    assert torch.allclose(load_image(array), torch.full((3, 4, 4), 0.5))


def test_grayscale_and_16_bit(tmp_path):
    gray = np.arange(0, 200, dtype=np.uint8).reshape(10, 20)
    image = load_image(_save(Image.fromarray(gray, "L"), tmp_path / "g.png"))
    _check(image, 10, 20)
    assert torch.equal(image[0], image[1]) and torch.equal(image[1], image[2])
    assert torch.allclose(image[0], torch.from_numpy(gray).float() / 255)
    deep = (np.arange(200, dtype=np.uint16).reshape(10, 20) * 300).astype(np.uint16)
    path = _save(Image.fromarray(deep), tmp_path / "d.png")
    image = load_image(path)
    assert torch.allclose(image[0], torch.from_numpy(deep.astype(np.float32)) / 65535, atol=1e-6)
    assert torch.allclose(load_image(deep)[0], image[0], atol=1e-6)


def test_cmyk_jpeg(tmp_path):
    cmyk = Image.new("CMYK", (16, 8), (0, 255, 255, 0))  # pure red in CMYK
    image = load_image(_save(cmyk, tmp_path / "c.jpg", quality=95))
    _check(image, 8, 16)
    mean = image.mean(dim=(1, 2))
    assert mean[0] > 0.85 and mean[1] < 0.2 and mean[2] < 0.2


def test_palette_with_transparency(tmp_path):
    palette = Image.new("P", (10, 10), 0)
    palette.putpalette([0, 0, 255] + [0, 255, 0] * 255)
    palette.paste(1, (5, 0, 10, 10))
    palette.info["transparency"] = 0     # index 0 (blue) transparent
    image = load_image(_save(palette, tmp_path / "p.png", transparency=0))
    assert torch.allclose(image[:, :, :5], torch.ones(3, 10, 5))          # white, not blue
    assert torch.allclose(image[:, :, 5:], torch.tensor([0.0, 1, 0]).view(3, 1, 1).expand(3, 10, 5))


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    image = load_image(path)
    assert image[0].mean() > 0.9 and image[2].mean() < 0.1


def test_exif_rotated_jpeg_is_upright(tmp_path):
    pixels = np.zeros((20, 40, 3), dtype=np.uint8)   # wide, stored sideways
    pixels[:, :20] = 255
    stored = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6                                  # orientation: rotate 90 degrees clockwise
    path = _save(stored, tmp_path / "r.jpg", exif=exif.tobytes(), quality=95)
    image = load_image(path)
    assert image.shape == (3, 40, 20)                 # upright: tall
    assert image[:, :18].mean() > 0.9 and image[:, 22:].mean() < 0.1


@pytest.mark.parametrize("suffix,kwargs", [("webp", dict(lossless=True)), ("bmp", {}),
                                           ("tiff", {}), ("tif", dict(compression="tiff_lzw"))])
def test_other_formats(tmp_path, suffix, kwargs):
    pixels = _gradient_rgb()
    image = load_image(_save(Image.fromarray(pixels), tmp_path / f"x.{suffix}", **kwargs))
    assert torch.allclose(image, torch.from_numpy(pixels).permute(2, 0, 1).float() / 255, atol=1e-6)


def test_resize_shorter_side_then_centre_crop():
    pixels = np.zeros((100, 200, 3), dtype=np.uint8)
    pixels[:, 50:150] = 255                          # a white centre band
    image = load_image(pixels, size=50)
    _check(image, 50, 50)
    # shorter side 100 -> 50, width 200 -> 100, centre crop keeps columns 25..75 = the band
    assert image.mean() > 0.97
    assert load_image(pixels, size=64).shape == (3, 64, 64)


def test_bad_size():
    with pytest.raises(ConfigError, match="size"):
        load_image(np.zeros((4, 4, 3), dtype=np.uint8), size=0)


# --- bad inputs ---------------------------------------------------------------------


def test_empty_and_random_bytes(tmp_path):
    with pytest.raises(InputError, match="empty"):
        load_image(b"")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        load_image(empty)
    with pytest.raises(InputError, match="not an image"):
        load_image(np.random.default_rng(0).bytes(4096))


def test_text_and_html_named_png(tmp_path):
    path = tmp_path / "page.png"
    path.write_text("<!DOCTYPE html><html><body>Not found</body></html>")
    with pytest.raises(InputError, match="text or HTML"):
        load_image(path)


def test_svg(tmp_path):
    path = tmp_path / "logo.png"
    path.write_text('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
                    'height="10"><rect width="10" height="10"/></svg>')
    with pytest.raises(InputError, match="SVG"):
        load_image(path)


@pytest.mark.parametrize("suffix", ["png", "jpg"])
def test_truncated_file(tmp_path, suffix):
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    data = io.BytesIO()
    Image.fromarray(noisy).save(data, format="PNG" if suffix == "png" else "JPEG")
    path = tmp_path / f"cut.{suffix}"
    path.write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
    with pytest.raises(InputError, match="truncated"):
        load_image(path)


def _png_declaring(width, height):
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # a tiny compressed stream: decoding would need width*height*3 bytes
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [8_000, 30_000, 100_000])
def test_decompression_bomb_is_refused_without_decoding(tmp_path, side):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_declaring(side, side))
    assert side * side > MAX_PIXELS
    with pytest.raises(InputError, match="large|limit"):
        load_image(path)


def test_nan_inf_and_out_of_range_arrays():
    for bad in (np.nan, np.inf, -np.inf):
        array = np.zeros((4, 4, 3), dtype=np.float32)
        array[1, 1, 1] = bad
        with pytest.raises(InputError, match="NaN or infinite"):
            load_image(array)
        with pytest.raises(InputError, match="NaN or infinite"):
            load_image(torch.from_numpy(array).permute(2, 0, 1))
    with pytest.raises(InputError, match=r"\[0,1\]"):
        load_image(np.full((4, 4, 3), 2.0, dtype=np.float32))


@pytest.mark.parametrize("shape", [(4, 4, 2), (4, 4, 5), (4,), (2, 4, 4, 3)])
def test_wrong_channel_counts_and_shapes(shape):
    with pytest.raises(InputError, match="channels|shape"):
        load_image(np.zeros(shape, dtype=np.uint8))


def test_wrong_dtype_and_type():
    with pytest.raises(InputError, match="dtype"):
        load_image(np.zeros((4, 4, 3), dtype=np.int64))
    with pytest.raises(InputError, match="cannot read"):
        load_image(12345)


def test_directories_and_missing_paths(tmp_path):
    with pytest.raises(InputError, match="folder"):
        load_image(tmp_path)
    with pytest.raises(InputError, match="no such"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(InputError, match="no such"):
        load_image(os.fspath(tmp_path / "missing.jpg"))


# --- large files: shrunk while decoded, one limit in every message ----------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_large_file_shrunk_while_decoding_matches_a_full_resize(fmt):
    rng = np.random.default_rng(3)
    coarse = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    big = Image.fromarray(coarse).resize((1200, 900), Image.BICUBIC)
    data = io.BytesIO()
    big.save(data, fmt, quality=95)
    shrunk = load_image(data.getvalue(), size=64)
    full = load_image(np.asarray(Image.open(io.BytesIO(data.getvalue())).convert("RGB")), size=64)
    _check(shrunk, 64, 64)
    assert (shrunk - full).abs().mean() < 0.5 / 255
    assert (shrunk - full).abs().max() < 2 / 255


@pytest.mark.parametrize("mode", ["P", "1", "I;16", "LA"])
def test_shrinking_keeps_colours_of_every_mode(mode):
    size = 600
    if mode == "P":
        image = Image.new("P", (size, size), 1)
        image.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)       # index 1 = red
        expected = torch.tensor([1.0, 0, 0])
    elif mode == "1":
        image = Image.new("1", (size, size), 1)
        expected = torch.ones(3)
    elif mode == "I;16":
        image = Image.fromarray(np.full((size, size), 30000, dtype=np.uint16))
        expected = torch.full((3,), 30000 / 65535)
    else:
        image = Image.new("LA", (size, size), (0, 255))
        expected = torch.zeros(3)
    data = io.BytesIO()
    image.save(data, "PNG")
    shrunk = load_image(data.getvalue(), size=32)
    torch.testing.assert_close(shrunk.mean(dim=(1, 2)), expected, atol=2e-3, rtol=0)


def test_a_flat_40_megapixel_png_never_holds_full_size_floats(tmp_path):
    # In a fresh process: the peak memory of decoding with size=64 stays far below one
    # full-size float copy (6300 x 6300 x 3 x 4 bytes = 476 MB).
    import subprocess
    import sys
    path = tmp_path / "flat.png"
    Image.new("RGB", (6300, 6300), (200, 120, 40)).save(path, optimize=True)
    script = (
        "import resource, sys, fragility as fg\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "image = fg.load_image(sys.argv[1], size=64)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(tuple(image.shape), (after - before) // 1024)\n")
    output = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                            text=True, check=True).stdout.split()
    shape, growth_mb = output[0] + output[1] + output[2], int(output[3])
    assert shape == "(3,64,64)"
    assert growth_mb < 250, growth_mb     # the 8-bit decode itself is 119 MB


def test_bomb_messages_state_one_limit():
    from fragility.images import MAX_PIXELS
    for side, declared in ((30_000, "900,000,000"), (10_000, "100,000,000")):
        with pytest.raises(InputError) as raised:
            load_image(_png_declaring(side, side), name="bomb.png")
        message = str(raised.value)
        assert f"bomb.png declares an image of {declared} pixels" in message
        assert re.findall(r"\d[\d,]{6,}", message) == [declared, f"{MAX_PIXELS:,}"]
    with pytest.raises(InputError, match=r"7000x7000 pixels, more than the limit of 40,000,000 "
                                         r"pixels; downscale"):
        load_image(_png_declaring(7000, 7000))


def test_every_listed_format_is_read_and_named_in_the_message(tmp_path):
    from fragility.images import EXTENSIONS, FORMATS
    words = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WebP", "gif": "GIF",
             "bmp": "BMP", "tif": "TIFF", "tiff": "TIFF"}
    assert set(EXTENSIONS) == set(words)
    for extension in EXTENSIONS:
        assert words[extension] in FORMATS
        path = _save(Image.fromarray(_gradient_rgb()), tmp_path / f"x.{extension}")
        _check(load_image(path), 30, 40)


def test_bytes_are_named_in_messages():
    with pytest.raises(InputError, match=r"^holiday\.png is not an image"):
        load_image(b"\x00\x01garbage" * 50, name="holiday.png")
