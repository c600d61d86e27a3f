"""The Learn page: its explanations, what changed, and the tables generated from the registries."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

import fragility as fg
from app_driver import APP, open_page


def test_the_learn_page_explains_baselines_changes_and_every_method():
    at = open_page(AppTest.from_file(str(APP), default_timeout=120).run(), "learn")
    text = "\n".join(block.value for block in at.markdown)
    for phrase in ("Random sign", "Noise floor", "References", "Adebayo", "A model that lies",
                   "One image can mislead", "Layer-wise relevance propagation (LRP)"):
        assert phrase in text, phrase
    assert "What changed since the first release, and how the numbers moved" in [
        expander.label for expander in at.main.expander]
    for method in fg.methods():
        assert f"`{method}`" in text, method
