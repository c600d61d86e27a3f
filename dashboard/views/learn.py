"""The learn page: what each method and attack does, and how to read the numbers."""

from __future__ import annotations

import streamlit as st

import fragility as fg
from fragility import tables

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
        "most salient pixels (by default 2% of the pixels, the paper's 1000 of 227×227) that "
        "are still among the k most salient. *Center shift*: how far, in pixels, the map's "
        "center of mass moved. *Label kept*: the attack only accepts changes that keep the "
        "network's prediction.")
    st.markdown(
        "**Every number has its baseline beside it.**\n"
        "- *Random sign*: noise of the same size, ±ε on every pixel. As in the authors' code, "
        "a fresh draw is made at every step and the draw that changes the map most (by the "
        "attack's own measure) while keeping the label is kept, so the baseline is as strong as "
        "random noise can be with the same number of tries. An attack shows something only "
        "where it goes beyond this; the Compare page ranks methods by that gap.\n"
        "- *Noise floor* (SmoothGrad): a SmoothGrad map is random. The attacked map is scored "
        "with fresh noise, independent of the noise the attack optimised against, and the noise "
        "floor is the same method on the unperturbed image with fresh noise: what the numbers "
        "show with no attack at all.\n"
        "- *No perturbation found*: when every step changed the predicted label, there is no "
        "result to report, and the page says so instead of showing metrics.")
    st.markdown(
        "**References.** Integrated gradients and DeepLIFT compare the image with a reference "
        "image. As in the paper, it is the mean image of the model's training data, fixed: it "
        "does not move when the attack moves the image. **Defences** can be switched on for any "
        "method: β-smoothing computes the map on the softplus network (Dombrowski et al., 2019), "
        "SmoothGrad averages it over noisy copies; the Attack page shows what the defence costs "
        "in faithfulness to the undefended map. The sidebar's **The paper's settings** button "
        f"applies the paper's values. {fg.PAPER.description}")
    st.markdown(
        "**Explanations by training images.** Instead of pointing at pixels, an "
        "influence-function explanation answers: *which training images made the model say "
        "this?* (Koh & Liang, 2017). Give one training image slightly more weight and retrain: "
        "if the loss on the test image goes down, that training image was *helpful*; if it goes "
        "up, *harmful*. Influence functions predict this without retraining, from the loss "
        "gradient at the test image, the loss gradient at the training image and the curvature "
        "(Hessian) of the training loss: score = ∇L(test)ᵀ (H + λI)⁻¹ ∇L(train), computed exactly "
        "here for the network's last layer. Ghorbani et al. showed that this explanation is "
        "fragile too: a change of a few /255 per pixel, with the predicted label unchanged, can "
        "replace the most helpful training images with unrelated ones (the **Influence** page). "
        "Rankings over many barely-influential images shift under any noise, so only a drop well "
        "below random sign shows a real attack.")
    methods_tab, attacks_tab, parameters_tab, defences_tab = st.tabs(
        ["Methods", "Attacks", "Parameters", "Defences"])
    methods_tab.markdown(tables.methods_table())
    attacks_tab.markdown(tables.attacks_table())
    parameters_tab.markdown(tables.parameters_table())
    defences_tab.markdown(tables.defences_table())
