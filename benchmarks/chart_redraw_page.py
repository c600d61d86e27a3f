"""A live center-of-mass chart redrawn twice a second, as on a running Attack page.

`?form=picture` draws the map as the dashboard does (a PNG picture under the path);
`?form=values` draws the same map as an image trace of `z` values, as the dashboard did
before. Served and measured by bench_chart_redraw.py.
"""

import sys
import time
from pathlib import Path

import streamlit as st
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard.components import figures, panels  # noqa: E402

form = st.query_params.get("form", "picture")
saliency = torch.rand(64, 64, generator=torch.Generator().manual_seed(0)) ** 4


@st.fragment(run_every=0.5)
def chart():
    steps = int(time.time() * 2) % 100 + 1      # the path grows by a step a redraw
    path = [(30 + step * 0.1, 30 + step * 0.05) for step in range(steps)]
    figure = figures.center_path(saliency, path, start=(30.0, 30.0))
    if form == "values":
        figure.data[0].update(source=None, z=panels.heatmap(saliency))
    st.plotly_chart(figure, key="chart_center", config={"displayModeBar": False})


chart()
