"""Image and saliency-map tiles for the pages.

They come from `fragility.rendering`, which the command line uses too, so that the
dashboard and the CLI draw maps with one colour scale.
"""

from fragility.rendering import (COLORSCALE, TILE, colorbar, contact_sheet, heatmap,  # noqa: F401
                                 overlay, panel, perturbation, png_bytes, to_pil)
