"""Target-map manipulation (Dombrowski et al., 2019): make the map match a given map.

D = -( mean((HW*h(x) - HW*h_target)^2) + gamma * mean((z(x) - z(x_t))^2) ), h the map and
z the logits. Maps are compared at mean 1 (scaled by H*W) so that gamma's scale does not
depend on the image size; the logit term keeps the network's output close to the original.
"""

from .registry import register


def target_map_objective(reference):
    pixels = reference.maps.shape[-2] * reference.maps.shape[-1]
    target = reference.target_map * pixels
    original_logits = reference.logits

    def dissimilarity(maps, logits):
        map_term = ((maps * pixels - target) ** 2).mean(dim=(1, 2))
        logit_term = ((logits - original_logits) ** 2).mean(dim=1)
        return -(map_term + reference.gamma * logit_term)
    return dissimilarity


register(
    "target-map", kind="interpretation", objective=target_map_objective, requires=("target_map",),
    title="Target-map manipulation",
    description="Makes the explanation look like any map you give while keeping the network's "
                "outputs close to the original (Dombrowski et al., 2019, 'Explanations can be "
                "manipulated and geometry is to blame').",
    objective_description="minus the squared distance to the target map plus gamma times the "
                          "squared change of the logits")
