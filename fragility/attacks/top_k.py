"""Top-k attack (Ghorbani et al., 2019): push saliency off the k most important features.

D = -(mass of the perturbed map on the k features that were most important originally).
"""

from ..metrics import top_k_mask
from .parameters import ITERATIVE
from .registry import register


def top_k_objective(reference):
    original_top_k = top_k_mask(reference.maps, reference.k)

    def dissimilarity(maps, logits):
        return -(maps * original_top_k).sum(dim=(1, 2))
    return dissimilarity


register(
    "top-k", kind="interpretation", objective=top_k_objective, parameters=ITERATIVE,
    title="Top-k attack",
    description="Moves saliency away from the k pixels that mattered most: each step lowers the "
                "map's mass on the original top-k pixels while the predicted label must stay "
                "the same (Ghorbani, Abid & Zou, 2019, Algorithm 1).",
    objective_description="minus the perturbed map's mass on the original top-k pixels")
