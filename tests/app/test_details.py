"""The configuration a page shows: every value, long arrays summarised."""

from __future__ import annotations

import json

from dashboard.components import details


def test_a_mask_is_summarised_by_its_shape_and_its_count():
    mask = [[[row % 2 == 0 and column < 10 for column in range(16)] for row in range(16)]]
    shown = details.summarised({"attack": "top-k", "mask": mask})
    assert shown == {"attack": "top-k", "mask": "1×16×16 booleans, 80 true"}


def test_numbers_are_summarised_by_their_range():
    values = [[x / 10 - 3.0 for x in range(40)], [float(x) for x in range(40)]]
    assert details.summarised({"reference": values}) == {
        "reference": "2×40 numbers from -3 to 39"}


def test_short_lists_and_scalars_are_shown_as_they_are():
    config = {"image_size": [64, 64], "target": None, "epsilon": 8 / 255,
              "layers": ["conv1", "conv2"], "nested": {"k": [1] * details.LONGEST_LISTED}}
    assert details.summarised(config) == config


def test_mixed_long_lists_and_nested_dicts():
    long_list = ["a"] * 10 + [1.0] * 30
    shown = details.summarised({"outer": {"inner": long_list}, "tuple_like": [[1, 2], [3, 4]]})
    assert shown == {"outer": {"inner": "40 values"}, "tuple_like": [[1, 2], [3, 4]]}


def test_the_summary_is_small_whatever_the_array():
    mask = [[[True] * 224 for _ in range(224)]]
    text = json.dumps(details.summarised({"mask": mask}))
    assert len(text) < 60 and "50176 true" in text
