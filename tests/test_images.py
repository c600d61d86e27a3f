import io
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
