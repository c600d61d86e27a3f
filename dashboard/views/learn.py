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
        "**The softplus sharpness β is a choice, and it matters.** The authors' code used "
        "Keras softplus (β = 1); this dashboard's default, kept by the paper's settings, is "
        "β = 10. On the bundled model the Spearman rank correlation after the top-k attack is "
        "0.86 at β 1, 0.26 at 3, 0.14 at 10 and 0.09 at 30 (lower: a stronger attack). Set β "
        "to 1 under the attack's *More settings* to run the authors' setting.")
    st.markdown(
        "**Reading the numbers.** *Spearman rank correlation*: 1 when the pixels keep their "
        "ranking, 0 when the ranking is unrelated. *Top-k intersection*: the share of the k "
        "most salient pixels (by default 2% of the pixels, the paper's 1000 of 227×227) that "
        "are still among the k most salient. *Center shift*: how far, in pixels, the map's "
        "center of mass moved. *Label kept*: the attack only accepts changes that keep the "
        "network's prediction.")
    st.markdown(
        "**Every number has its baseline beside it.**\n"
        "- *Random sign*: noise of the same size, ±ε on every pixel. A fresh draw is made at "
        "every step and the draw that changes the map most (by the attack's own measure) while "
        "keeping the label is kept. The authors' baseline was a walk of small random sign "
        "steps inside the ε-ball (*draws: walk*); the corner draws move every pixel by the full "
        "ε and are the stronger baseline (on the bundled model Spearman 0.68 after the best "
        "draw, 0.85 after the walk), so the claims against them are conservative. An attack "
        "shows something only where it goes beyond this; the Compare page ranks methods by "
        "that gap.\n"
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
        "in faithfulness to the undefended map. The attack on a defence is adaptive: it "
        "differentiates the defended map itself, as Dombrowski et al. did (for SmoothGrad one "
        "fixed noise draw, or fresh noise every step with *Fresh noise*). The sidebar's **The paper's settings** button "
        f"applies the paper's values. {fg.PAPER.description}")
    st.markdown(
        "**Layer-wise relevance propagation (LRP)** hands the class score back through the "
        "network layer by layer, each layer sharing what it received among its inputs by a rule "
        "(z+, α2β1, γ, flat, z^B), so that the pixels' relevances add up to the score, less what "
        "the biases keep (Bach et al., 2015). Dombrowski et al. (2019) showed that its maps can "
        "be moved like the gradient's; the attack follows them on the softplus network, and "
        "β-smoothing is the defence they proposed.")
    with st.expander("What changed since the first release, and how the numbers moved"):
        st.markdown(
            "- **Random sign** now redraws every step and keeps the best draw: the gradient's top-k intersection under it fell from 0.46 (one draw) to 0.27 "
            "(best of 100), against 0.00 for the attack.\n"
            "- **SmoothGrad** is scored with fresh noise: with the attack's own noise its "
            "top-k intersection read 0.015 and 1.0 at ε 0; with fresh noise it reads 0.067, "
            "beside a noise floor of 0.67 and random sign at 0.60.\n"
            "- **No perturbation found** is said as such instead of showing the original "
            "image as a result.\n"
            "- **References** are the fixed dataset mean: integrated gradients used a black "
            "image, DeepLIFT the image's own mean, which moved with the attack.\n"
            "- **Compare** ranks methods by how far the attack goes beyond random sign; the "
            "ranking is the same at 10 to 100 steps.\n"
            "- **Sanity checks** add signed Spearman and HOG similarity, and randomise "
            "BatchNorm instead of removing it.")
    st.markdown(
        "**Explanations by training images.** Instead of pointing at pixels, an "
        "influence-function explanation answers: *which training images made the model say "
        "this?* (Koh & Liang, 2017). Give one training image slightly more weight and retrain: "
        "if the loss on the test image goes down, that training image was *helpful*; if it goes "
        "up, *harmful*. Influence functions predict this without retraining, from the loss "
        "gradient at the test image, the loss gradient at the training image and the curvature "
        "(Hessian) of the training loss: score = ∇L(test)ᵀ (H + λI)⁻¹ ∇L(train), here for the "
        "network's last layer only, with H from a sample of training images and a damping λ that "
        "sets much of the ranking on a confident model (the page shows how much). Ghorbani et al. showed that this explanation is "
        "fragile too: a change of a few /255 per pixel, with the predicted label unchanged, can "
        "replace the most helpful training images with unrelated ones (the **Influence** page). "
        "Rankings over many barely-influential images shift under any noise, so only a drop well "
        "below random sign shows a real attack.")
    st.markdown(
        "**Does the map depend on the model at all?** Adebayo et al. (2018) compare maps four "
        "ways: Spearman of the saliency maps (absolute values), Spearman of the signed "
        "attributions (a map that flips sign everywhere looks the same in absolute value), SSIM, "
        "and the correlation of their HOG features (edges and their directions). The **Sanity "
        "check** page applies them to two tests. *Model randomisation*: re-initialise the layers "
        "from the logits down; a map that stays the same cannot be explaining what the network "
        "learned. *Data randomisation*: the same architecture trained on shuffled labels "
        "(bundled-shuffled, 100% on its 512 shuffled training images, 10.3% on fresh ones: "
        "chance) has learned nothing about the shapes. Its maps are compared with a control's, "
        "the same recipe on the true labels (bundled-control), not with 1: two networks that "
        "learned the labels do not share their maps either. Grad-CAM and guided backpropagation "
        "maps differ far more on the shuffled network than on the control; the gradient maps "
        "only a little, integrated gradients, SmoothGrad and DeepLIFT not measurably.")
    st.markdown(
        "**A model that lies.** Heo et al. (2019) showed that the model itself can be changed "
        "so that its maps point where its maker chooses, while it predicts as before. The "
        "**Manipulated model** page shows bundled-manipulated: fine-tuned so that its gradient "
        "maps put their mass in the top-left corner, its accuracy went from 100.00% to 99.80% "
        "while the corner's share of the gradient map went from 4.0% to 63.1%. The same accuracy "
        "says nothing about whether the maps can be trusted.")
    st.markdown(
        "**One image can mislead.** The paper's claims are means over many images, drawn as "
        "curves against ε. The **Experiments** page (and `fragility sweep`) attacks a set of "
        "images with every chosen method, attack and ε, each against its own random-sign "
        "baseline, and draws the mean with a 95% band as the rows arrive.")
    methods_tab, attacks_tab, parameters_tab, defences_tab = st.tabs(
        ["Methods", "Attacks", "Parameters", "Defences"])
    methods_tab.markdown(tables.methods_table())
    attacks_tab.markdown(tables.attacks_table())
    parameters_tab.markdown(tables.parameters_table())
    defences_tab.markdown(tables.defences_table())
