"""Targeted attack (Ghorbani et al., 2019): pull saliency into a region of the user's choice.

D = mass of the perturbed map inside the region mask.
"""

from .parameters import ITERATIVE, REGION
from .registry import register


def targeted_objective(reference):
    region = reference.values["region"]

    def dissimilarity(maps, logits):
        return (maps * region).sum(dim=(1, 2))
    return dissimilarity


register(
    "targeted", kind="interpretation", objective=targeted_objective,
    parameters=(*ITERATIVE, REGION),
    title="Targeted attack",
    description="Pulls saliency into a region you choose, e.g. the background, keeping the "
                "predicted label (Ghorbani, Abid & Zou, 2019, Algorithm 1).",
    objective_description="the perturbed map's mass inside the chosen region")
