"""The learn page: what each method and attack does, for teaching."""

from __future__ import annotations

import streamlit as st

import fragility as fg

from ..components.choices import PAPER


def render() -> None:
    st.title("Learn: fragile interpretations")
    st.markdown(
        "A saliency map says which pixels a network's decision depends on. "
        f"{PAPER} showed that a change to the image too small to see, and that keeps the "
        "predicted label, can move the map almost anywhere. This dashboard repeats their "
        "experiment: it searches for such a change (at most ε per pixel, on the 0-255 scale) "
        "by gradient steps on a smooth copy of the network (ReLU replaced by softplus), and "
        "compares the maps before and after, against a random change of the same size.")
    st.markdown(
        "**Reading the numbers.** *Spearman rank correlation*: 1 when the pixels keep their "
        "ranking, 0 when the ranking is unrelated. *Top-k intersection*: the share of the k "
        "most salient pixels that are still among the k most salient. *Center shift*: how far, "
        "in pixels, the map's center of mass moved. *Label kept*: the attack only accepts "
        "changes that keep the network's prediction.")
    left, right = st.columns(2)
    with left:
        st.header("Methods")
        for name in fg.methods():
            spec = fg.get_method(name)
            st.markdown(f"**{spec.title}** — {spec.description}")
    with right:
        st.header("Attacks")
        for name in fg.attacks():
            spec = fg.get_attack(name)
            st.markdown(f"**{spec.title}** — {spec.description}")
