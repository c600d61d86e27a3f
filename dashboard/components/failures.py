"""Errors on the page: short, in place, never a traceback; the full report goes to the log.

Messages that fragility raises on purpose (`FragilityError`) say what to do and are shown
as they are, escaped so that a file name or label cannot turn into a link, an image or
a formula. Anything else is a bug or a model misbehaving: the page gets one sentence
and a details expander with a reference; the traceback is logged on the server only,
under that reference.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import sys
from collections.abc import Iterator

import streamlit as st

LOG = logging.getLogger("fragility.dashboard")
if not LOG.handlers:
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    LOG.addHandler(_handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False

# Markdown, HTML, LaTeX ($) and Streamlit's :directives: all start with ASCII punctuation.
_MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")


def escape(text: str) -> str:
    """`text` shown literally by st.markdown, st.error and friends."""
    return _MARKUP.sub(r"\\\1", str(text)).replace("\n", "  \n")


class Unexpected:
    """What the page shows of an unexpected exception: a sentence and a reference."""

    def __init__(self, error: BaseException, doing: str):
        self.reference = secrets.token_hex(4)
        self.kind = type(error).__name__
        self.message = (f"Something went wrong while {doing} ({self.kind}). The dashboard "
                        "keeps working: change a setting or try again.")
        LOG.error("unexpected error while %s [reference %s]", doing, self.reference,
                  exc_info=(type(error), error, error.__traceback__))

    def show(self) -> None:
        st.error(self.message, icon=":material/error:")
        with st.expander("Details"):
            st.markdown(f"Error type: `{self.kind}`. The full report is in the server's log "
                        f"under reference `{self.reference}`; give it to the person running "
                        "the dashboard.")

    def __str__(self) -> str:
        return self.message


@contextlib.contextmanager
def shown_in_place(doing: str) -> Iterator[None]:
    """Run a part of the page; an unexpected exception becomes a short message there.

    Streamlit's own control flow (st.rerun, st.stop) derives from BaseException and
    passes through untouched.
    """
    try:
        yield
    except Exception as error:
        Unexpected(error, doing).show()
