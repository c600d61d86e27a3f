"""The smallest page a Streamlit server can show: the floor under the dashboard's first paint.

bench_classroom.py serves it from a process of its own beside the dashboard and loads it
the same way, so the printed first paints separate what Streamlit's own page costs the
visitor's browser on these cores from what the dashboard adds. It has what a first paint
waits for: a sidebar widget, a title, the Run attack button and an image captioned as a map.
"""

import numpy as np
import streamlit as st

st.set_page_config(page_title="Minimal page", layout="wide")
with st.sidebar:
    st.selectbox("Model", ["Bundled (offline)"])
st.title("How fragile is this explanation?")
st.button("Run attack", type="primary")
st.image(np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8),
         caption="Simple gradient map")
