"""Mass-center attack (Ghorbani et al., 2019): move the map's center of mass.

D = || C(original map) - C(perturbed map) ||_2, C the center of mass in pixels.
"""

import torch

from ..metrics import center_of_mass
from .parameters import ITERATIVE
from .registry import register


def mass_center_objective(reference):
    original_center = center_of_mass(reference.maps)

    def dissimilarity(maps, logits):
        return torch.linalg.vector_norm(center_of_mass(maps) - original_center, dim=1)
    return dissimilarity


register(
    "mass-center", kind="interpretation", objective=mass_center_objective, parameters=ITERATIVE,
    title="Center-of-mass attack",
    description="Drags the saliency map's center of mass as far as possible from where it was, "
                "keeping the predicted label (Ghorbani, Abid & Zou, 2019, Algorithm 1).",
    objective_description="distance in pixels between the original and perturbed centers of mass")
