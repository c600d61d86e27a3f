"""What the sidebar's gallery of samples costs the server on every rerun of a page.

Every click and every job's end reruns a session's whole script, so in a classroom the
sidebar is drawn again and again. The gallery was one `st.image` per thumbnail, each
encoded, decoded, shrunk and encoded again by Streamlit on every rerun; it is now one
picture drawn once per server (`state.gallery_png`). Both forms are run in Streamlit's
AppTest, alternating `--rounds` times, for the synthetic samples (64 pixels, 12 shown) and
the photos (224 pixels, 4). Prints milliseconds per rerun, with a script that draws nothing
as the floor of AppTest's own cost, and the ratio of what each form adds to that floor.

    .venv/bin/python benchmarks/bench_gallery.py [--reruns 30] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def nothing(kind: str, size: int) -> None:
    import streamlit as st
    st.sidebar.header("Image")


def one_per_thumbnail(kind: str, size: int) -> None:
    import streamlit as st

    import fragility as fg
    from dashboard.components import state
    st.sidebar.header("Image")
    st.sidebar.image([state.sample_image(sample.name, size).permute(1, 2, 0).numpy()
                      for sample in fg.samples(kind)[:12]], width=44)


def one_picture(kind: str, size: int) -> None:
    import streamlit as st

    import fragility as fg
    from dashboard.components import state
    st.sidebar.header("Image")
    shown = tuple(sample.name for sample in fg.samples(kind)[:12])
    st.sidebar.image(state.gallery_png(shown, size), width="content", output_format="PNG")


def milliseconds_per_rerun(app: AppTest, reruns: int) -> float:
    start = time.perf_counter()
    for _ in range(reruns):
        app.run()
    assert not app.exception, app.exception
    return (time.perf_counter() - start) / reruns * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    forms = {"nothing": nothing, "one st.image per thumbnail": one_per_thumbnail,
             "one picture (the dashboard's)": one_picture}
    for kind, size in (("synthetic", 64), ("photo", 224)):
        apps = {name: AppTest.from_function(script, args=(kind, size), default_timeout=120)
                for name, script in forms.items()}
        for app in apps.values():
            app.run()          # samples decoded, the picture drawn: what a server holds
        times = {name: [] for name in forms}
        for _ in range(args.rounds):
            for name, app in apps.items():
                times[name].append(milliseconds_per_rerun(app, args.reruns))
        print(f"{kind} samples at {size} pixels, {args.reruns} reruns x {args.rounds} rounds "
              "(ms per rerun, median of rounds):")
        medians = {name: statistics.median(values) for name, values in times.items()}
        for name, value in medians.items():
            print(f"  {name:32s} {value:7.2f}   (rounds: "
                  f"{', '.join(f'{v:.2f}' for v in times[name])})")
        floor = medians["nothing"]
        old, new = (medians[name] - floor for name in list(forms)[1:])
        print(f"  added to the rerun: {old:.2f} ms one per thumbnail, {new:.2f} ms one picture"
              f" ({old / max(new, 1e-3):.0f} times)")


if __name__ == "__main__":
    main()
