"""A run's details as the pages show them: in an expander drawn only while open, with
every value of the configuration and long arrays summarised.

`st.json` draws one DOM node per value, hidden in a closed expander or not. The object
mask of a 64×64 sample is 4,096 booleans, about 47,000 nodes, and the page drew them
again on each rerun: a finished Attack page cost its browser seconds of CPU per redraw.
A closed expander's content costs the browser too: the first `st.code` a page shows loads
and runs the syntax highlighter (about 0.5 s of the browser's main thread), and a table
loads the data grid.
"""

from __future__ import annotations

import streamlit as st

LONGEST_LISTED = 32   # values; a longer array is summarised


def expander(label: str, key: str):
    """An expander that draws its content only while it is open (opening it reruns the
    page): `with expander(label, key) as box: if box.open: ...`."""
    return st.expander(label, key=key, on_change="rerun")


def show(config: dict) -> None:
    st.json(summarised(config))


def summarised(value):
    """`value` (JSON-able) with each array of more than LONGEST_LISTED values described."""
    if isinstance(value, dict):
        return {key: summarised(item) for key, item in value.items()}
    if isinstance(value, list):
        leaves = list(_leaves(value))
        if len(leaves) > LONGEST_LISTED:
            return _description(_shape(value), leaves)
        return [summarised(item) for item in value]
    return value


def _leaves(value):
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _shape(value) -> list[int]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return shape


def _description(shape: list[int], leaves: list) -> str:
    size = "×".join(str(n) for n in shape)
    if all(isinstance(leaf, bool) for leaf in leaves):
        return f"{size} booleans, {sum(leaves)} true"
    if all(isinstance(leaf, (int, float)) and not isinstance(leaf, bool) for leaf in leaves):
        return f"{size} numbers from {min(leaves):.4g} to {max(leaves):.4g}"
    return f"{size} values"
