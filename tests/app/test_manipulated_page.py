"""The manipulated-model page through Streamlit's AppTest."""

from __future__ import annotations

import torch
from streamlit.testing.v1 import AppTest

import fragility as fg
from dashboard.components import state


def open_page(at: AppTest, path: str = "manipulated") -> AppTest:
    hashes = [page_hash for page_hash, info in at._registered_pages.items()
              if info.get("url_pathname") == path]
    assert len(hashes) == 1, at._registered_pages
    at._page_hash = hashes[0]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown_samples():
    samples = fg.samples("synthetic")[:8]
    images = torch.stack([sample.load(size=64) for sample in samples])
    labels = torch.tensor([fg.load_model("bundled").labels.index(s.label) for s in samples])
    return images, labels


def test_the_page_shows_both_models_accuracy_and_map_mass_from_the_card(app):
    open_page(app)
    info = fg.checkpoint_info("bundled-manipulated")
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Accuracy, original model"] == f"{float(info['accuracy_before']):.2%}"
    assert metrics["Accuracy, manipulated model"] == f"{float(info['accuracy_after']):.2%}"
    assert metrics["Gradient map in the region, manipulated"] == f"{float(info['mass_after']):.1%}"
    assert "Heo, Joo & Moon" in " ".join(m.value for m in app.markdown)
    caption = " ".join(c.value for c in app.main.caption)
    assert f"Fooling Success Rate** of {float(info['majority_after']):.1%}" in caption
    assert "a choice" in caption
    assert not app.error


def test_the_tiles_and_numbers_are_the_api_measurements(app):
    open_page(app)
    images, labels = shown_samples()
    region = fg.checkpoint_info("bundled-manipulated")["region"]
    before = fg.manipulation.evaluate(state.named_model("bundled"), images, labels, region)
    after = fg.manipulation.evaluate(state.named_model("bundled-manipulated"), images, labels, region)
    text = " ".join(m.value for m in app.markdown)
    assert f"puts **{after['mass'].mean():.0%}** there" in text
    assert f"puts {before['mass'].mean():.0%} of its maps in the region" in text
    captions = [caption for image in app.main.get("image") for caption in image.captions
                if caption != "low → high saliency"]
    assert len(captions) == 16
    model = state.named_model("bundled")
    for index in range(8):
        assert captions[8 + index] == (f"manipulated: {model.label_name(int(after['predicted'][index]))}"
                                       f" · {after['mass'][index]:.0%} in region")


def test_another_method_shows_whether_the_lie_carries_over(app):
    app.selectbox(key="method").set_value("gradcam").run()
    open_page(app)
    assert not app.exception and not app.error
    text = " ".join(m.value for m in app.markdown)
    assert "does the lie carry over to Grad-CAM" in text
