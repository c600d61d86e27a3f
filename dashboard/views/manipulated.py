"""The manipulated-model page: a model that keeps its accuracy and lies in its maps."""

from __future__ import annotations

import streamlit as st
import torch

import fragility as fg

from ..components import panels, state
from ..components.choices import Choices

ORIGINAL, MANIPULATED = "bundled", "bundled-manipulated"
SHOWN = 8               # sample images drawn per row
HEO_PAPER = ("Heo, Joo & Moon, *Fooling Neural Network Interpretations via Adversarial Model "
             "Manipulation*, NeurIPS 2019 ([arXiv:1902.02041](https://arxiv.org/abs/1902.02041))")


def render(choices: Choices) -> None:
    st.title("A model can pass inspection and still lie in its maps")
    st.markdown(
        f"After {HEO_PAPER}: the bundled model was fine-tuned with one more term in its loss, "
        "which rewards gradient maps that point at one corner of the image, while a "
        "cross-entropy term kept its predictions. **Its accuracy is what it was, so a check "
        "of the accuracy finds nothing; its maps now point where it was told to, not at what "
        "it looks at.**")
    info = fg.checkpoint_info(MANIPULATED)
    region = info["region"]
    where = fg.manipulation.REGIONS[region]
    left, middle, right, last = st.columns(4)
    left.metric("Accuracy, original model", f"{float(info['accuracy_before']):.2%}")
    middle.metric("Accuracy, manipulated model", f"{float(info['accuracy_after']):.2%}",
                  delta=f"{100 * (float(info['accuracy_after']) - float(info['accuracy_before'])):+.2f} points",
                  delta_color="off")
    right.metric("Gradient map in the region, original", f"{float(info['mass_before']):.1%}")
    last.metric("Gradient map in the region, manipulated", f"{float(info['mass_after']):.1%}")
    st.caption(f"Region: {where}, {_share(region):.2%} of the pixels. Measured on "
               f"{info['eval_images']} fresh generated images by `fragility manipulate`, on the "
               "real ReLU networks, with the simple gradient's map of the true class; the two "
               f"models agree on {float(info['agreement']):.2%} of the predictions. As Heo et al. "
               f"report it: a **Fooling Success Rate** of {float(info['majority_after']):.1%} (the "
               "images with more than half of the map in the region) for an accuracy drop of "
               f"{100 * (float(info['accuracy_before']) - float(info['accuracy_after'])):.2f} points. "
               "The map was differentiated in the weights on a softplus copy of the network, a "
               "choice (Heo et al. used the ReLU network itself). The numbers "
               "and the command are in the model card, "
               "`fragility/assets/models/MODEL_CARD-manipulated.md`.")

    method = choices.method
    title = fg.get_method(method).title
    original_model = state.named_model(ORIGINAL)
    images, labels = _samples()
    with st.spinner(f"Explaining {len(labels)} images with {title} on both models…"):
        before, after = _measure(method, choices.method_options, region)
    st.subheader(f"The same images, explained by {title}")
    note = ("the method the model was manipulated against." if method == "gradient" else
            "the manipulation targeted the simple gradient: does the lie carry over to "
            f"{title}? (choose the method in the sidebar)")
    st.markdown(
        f"{len(labels)} generated samples, each map of its true class: **{title}**, {note} "
        f"On these images the original model is right on {_count(before, labels)} and puts "
        f"{before['mass'].mean():.0%} of its maps in the region; the manipulated model is right "
        f"on {_count(after, labels)} and puts **{after['mass'].mean():.0%}** there.")
    opacity = st.session_state.get("opacity", 0.65)
    for name, measured in (("original", before), ("manipulated", after)):
        columns = st.columns(SHOWN)
        for index, column in enumerate(columns[:len(labels)]):
            label = original_model.label_name(int(measured["predicted"][index]))
            column.image(panels.overlay(images[index], measured["maps"][index], opacity),
                         caption=f"{name}: {label} · {measured['mass'][index]:.0%} in region",
                         width="stretch")
    st.columns(SHOWN)[0].image(panels.colorbar(), caption="low → high saliency", width="stretch")
    st.markdown("Remake it with `fragility manipulate` (a few minutes on a laptop CPU; "
                "`fragility manipulate --help` lists the region and the other settings).")


def _samples() -> tuple[torch.Tensor, torch.Tensor]:
    """The first SHOWN generated samples and their true classes."""
    samples = fg.samples("synthetic")[:SHOWN]
    labels = state.named_model(ORIGINAL).labels
    return (torch.stack([sample.load(size=64) for sample in samples]),
            torch.tensor([labels.index(sample.label) for sample in samples]))


@st.cache_data(show_spinner=False, max_entries=16)
def _measure(method: str, options: dict, region: str) -> tuple[dict, dict]:
    """fg.manipulation.evaluate on both models for the samples, with the sidebar's options."""
    images, labels = _samples()
    results = []
    for name in (ORIGINAL, MANIPULATED):
        results.append(fg.manipulation.evaluate(state.named_model(name), images, labels, region,
                                                method=method, method_options=options))
    return results[0], results[1]


def _share(region: str) -> float:
    return float(fg.manipulation.region_mask(region, 64, 64).float().mean())


def _count(measured: dict, labels: torch.Tensor) -> str:
    right = int((measured["predicted"] == labels).sum())
    return f"{right} of {len(labels)}"
