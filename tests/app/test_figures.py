"""The dashboard's charts: what they draw is the data they are given."""

import base64
import io

import numpy as np
import torch
from PIL import Image

from dashboard.components import figures, panels


def test_the_center_chart_draws_the_map_in_the_tiles_colours_and_the_path_over_it():
    saliency = torch.rand(12, 20) ** 3
    path = [(5.0, 7.0), (5.5, 8.25), (6.0, 9.5)]
    figure = figures.center_path(saliency, path, start=(4.0, 6.0))
    image, start, line, now = figure.data
    header, encoded = image.source.split(",", 1)
    assert header == "data:image/png;base64"
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGB"))
    np.testing.assert_array_equal(pixels, panels.heatmap(saliency))    # PNG: lossless
    assert (start.x, start.y) == ((6.0,), (4.0,))                      # (row, column) -> (x, y)
    assert list(line.x) == [7.0, 8.25, 9.5] and list(line.y) == [5.0, 5.5, 6.0]
    assert (now.x, now.y) == ((9.5,), (6.0,))
    assert tuple(figure.layout.xaxis.range) == (-0.5, 19.5)
    assert tuple(figure.layout.yaxis.range) == (11.5, -0.5)            # row 0 on top
