"""The sidebar's gallery: one picture of the samples' thumbnails, drawn once per server."""

import io

import numpy as np
from PIL import Image

import fragility as fg
from dashboard.components import state
from fragility import rendering


def test_the_gallery_is_the_samples_thumbnails_in_order_with_gaps_between_them():
    names = tuple(sample.name for sample in fg.samples("synthetic")[:12])
    assert len(names) == 12
    sheet = Image.open(io.BytesIO(state.gallery_png(names, 64)))
    size, gap = state.THUMBNAIL, state.THUMBNAIL // 7
    assert sheet.size == (5 * size + 4 * gap, 3 * size + 2 * gap)    # 5, 5 and 2 to a row
    pixels = np.asarray(sheet.convert("RGBA"))
    for index, name in enumerate(names):
        row, column = divmod(index, 5)
        top, left = row * (size + gap), column * (size + gap)
        tile = pixels[top:top + size, left:left + size]
        expected = np.asarray(rendering.to_pil(state.sample_image(name, 64), size=size))
        inner = slice(size // 8, size - size // 8)       # inside the rounded corners
        np.testing.assert_array_equal(tile[inner, inner, :3], expected[inner, inner])
        assert (tile[inner, inner, 3] == 255).all()
        assert tile[0, 0, 3] == 0                          # a rounded, transparent corner
    assert (pixels[:, size:size + gap, 3] == 0).all()        # the gap between columns is clear
    assert (pixels[2 * size + 2 * gap:, 2 * size + gap:, 3] == 0).all()   # no 13th thumbnail


def test_the_sidebar_sends_the_gallery_as_one_picture(app):
    gallery = [element for element in app.sidebar if element.type == "image"]
    assert len(gallery) == 1
    assert len(gallery[0].proto.imgs) == 1
