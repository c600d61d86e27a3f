"""Pages say, in plain sight, that a defence is attacked adaptively."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app_driver import APP, open_page


def main_text(at: AppTest) -> str:
    """The page's visible markdown (expanders' contents left out)."""
    folded = {id(block) for expander in at.main.expander for block in expander.markdown}
    return "\n".join(block.value for block in at.main.markdown if id(block) not in folded)


def test_the_attack_page_says_the_defence_is_attacked_adaptively(app):
    assert "Adaptive attack" not in main_text(app)
    app.selectbox(key="defence").set_value("smoothgrad").run()
    text = main_text(app)
    assert "**Adaptive attack:**" in text and "SmoothGrad on" in text and "same noise draw" in text
    app.checkbox(key="defence:smoothgrad:fresh_noise").check().run()
    assert "fresh noise at every step" in main_text(app)
    app.selectbox(key="defence").set_value("beta-smoothing").run()
    assert "**Adaptive attack:**" in main_text(app) and "noise" not in main_text(app).split("Adaptive")[1]


def test_the_compare_page_says_it_with_a_defence_on(app):
    open_page(app, "compare")
    assert "Adaptive attack" not in main_text(app)
    app.selectbox(key="defence").set_value("beta-smoothing").run()
    assert "**Adaptive attack:**" in main_text(app)


def test_the_learn_page_says_it_and_discloses_beta_and_the_walk():
    at = open_page(AppTest.from_file(str(APP), default_timeout=120).run(), "learn")
    text = main_text(at)
    assert "adaptive" in text and "Dombrowski" in text
    assert "Keras softplus (β = 1)" in text and "walk" in text
