"""Target-map manipulation (Dombrowski et al., 2019): make the map match a given map.

D = -( mean((HW*h(x) - HW*h_target)^2) + gamma * ||g(x) - g(x_t)||^2 ), h the map and g the
softmax probabilities, as in Dombrowski et al.'s loss. Maps are compared at mean 1 (scaled
by H*W) so that gamma's scale does not depend on the image size; the output term keeps the
network's class probabilities close to the original ones.
"""

from .parameters import GAMMA, ITERATIVE, TARGET_MAP
from .registry import register


def target_map_objective(reference):
    pixels = reference.maps.shape[-2] * reference.maps.shape[-1]
    target = reference.values["target_map"] * pixels
    original = reference.logits.softmax(dim=1)
    gamma = reference.values["gamma"]

    def dissimilarity(maps, logits):
        map_term = ((maps * pixels - target) ** 2).mean(dim=(1, 2))
        output_term = ((logits.softmax(dim=1) - original) ** 2).sum(dim=1)
        return -(map_term + gamma * output_term)
    return dissimilarity


register(
    "target-map", kind="interpretation", objective=target_map_objective,
    parameters=(*ITERATIVE, TARGET_MAP, GAMMA),
    title="Target-map manipulation",
    description="Makes the explanation look like any map you give while keeping the network's "
                "class probabilities close to the original (Dombrowski et al., 2019, "
                "'Explanations can be manipulated and geometry is to blame').",
    objective_description="minus the squared distance to the target map plus gamma times the "
                          "squared change of the class probabilities")
