"""Image and saliency-map tiles for the pages.

They come from `fragility.rendering`, which the command line uses too, so that the
dashboard and the CLI draw maps with one colour scale.
"""

from fragility.rendering import (COLORSCALE, TILE, colorbar, heatmap, overlay, panel,  # noqa: F401
                                 perturbation, png_bytes, to_pil)
