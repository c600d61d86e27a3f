"""The fragility dashboard: `streamlit run dashboard/app.py` (or `fragility-dashboard`).

Entry point and router: the shared sidebar is drawn once, then the chosen page.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

try:
    import dashboard  # noqa: F401  (installed with the package)
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard import settings  # noqa: E402
from dashboard.components.choices import Choices, sidebar  # noqa: E402
from dashboard.components import compute, workers  # noqa: E402
from dashboard.components.failures import shown_in_place  # noqa: E402
from dashboard.views import attack, compare, experiments, influence, learn, manipulated, sanity  # noqa: E402

compute.one_intra_op_thread()     # the worker threads' jobs; the compute processes do the same
# An attack thread releases the GIL in every torch op and must win it back from the
# threads that draw the page; at Python's default 5 ms switch interval each hand-back
# can wait 5 ms (a 100-step attack beside a busy drawing thread: 179 s instead of 2 s).
sys.setswitchinterval(1e-4)

# An emoji icon is drawn by the browser; a :material/...: page icon would be fetched from
# fonts.gstatic.com by every visitor, and the page makes no requests beyond its server.
st.set_page_config(page_title="Fragile interpretations", page_icon="🔍", layout="wide")

# Started without its safe server settings (and not on the operator's say-so): serve nothing.
if refusal := settings.refusal():
    st.error(refusal, icon=":material/gpp_bad:")
    st.stop()

# The workers (and their compute processes, which take seconds to start) are ready before
# the first Run.
workers.pool()


def attack_page() -> None:
    attack.render(choices)


def compare_page() -> None:
    compare.render(choices)


def sanity_page() -> None:
    sanity.render(choices)


def experiments_page() -> None:
    experiments.render(choices)


# Streamlit serves the default page only at the root ("" is its URL pathname, whatever its
# url_path), so a direct link to /attack opens a hidden twin of it.
navigation = st.navigation([
    st.Page(attack_page, title="Attack", icon=":material/target:", url_path="attack-home", default=True),
    st.Page(lambda: attack.render(choices), title="Attack", icon=":material/target:", url_path="attack",
            visibility="hidden"),
    st.Page(compare_page, title="Compare methods", icon=":material/leaderboard:", url_path="compare"),
    st.Page(sanity_page, title="Sanity check", icon=":material/shuffle:", url_path="sanity"),
    st.Page(lambda: influence.render(choices), title="Influence", icon=":material/groups:", url_path="influence"),
    st.Page(lambda: manipulated.render(choices), title="Manipulated model",
            icon=":material/theater_comedy:", url_path="manipulated"),
    st.Page(experiments_page, title="Experiments", icon=":material/monitoring:", url_path="experiments"),
    st.Page(learn.render, title="Learn", icon=":material/school:", url_path="learn"),
], position="top")
choices = Choices(errors=["The sidebar could not be drawn."])
with shown_in_place("drawing the sidebar"):
    choices = sidebar()
with shown_in_place("drawing this page"):
    navigation.run()
