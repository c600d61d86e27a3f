"""The pages' Plotly charts.

They come from `fragility.figures`, which `fg.plot` uses too, so that a notebook and the
dashboard never draw the same chart two ways.
"""

from fragility.figures import (ATTACK_COLOR, FONT, RANDOM_COLOR, SANITY_COLORS,  # noqa: F401
                               SANITY_METRICS, center_path, over_k, per_layer, per_method, per_step,
                               sanity_title)
