"""Named attacks: the single source for menus, the CLI and parametrised tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from ..errors import unknown_name

# What an attack does with the images:
#   "interpretation": Algorithm 1 of Ghorbani et al. (change the map, keep the label);
#   "baseline":       random sign noise of the same size (the paper's control);
#   "label":          PGD/FGSM on the class (for contrast: the label is meant to change).
KINDS = ("interpretation", "baseline", "label")


@dataclass(frozen=True)
class Reference:
    """What an objective compares against: the original image's real map and outputs."""
    maps: torch.Tensor                 # (N,H,W) saliency maps of the original images
    logits: torch.Tensor               # (N,classes) at the original images
    labels: torch.Tensor               # (N,) predicted (and explained) classes
    k: int                             # features in the top-k set
    region: torch.Tensor | None        # (N,H,W) bool, targeted attack
    target_map: torch.Tensor | None    # (N,H,W) summing to 1, target-map attack
    gamma: float                       # weight of the logit term, target-map attack

    def select(self, images: slice) -> Reference:
        """The reference of the images `images` alone (a slice of the batch)."""
        def part(tensor):
            return None if tensor is None else tensor[images]
        return replace(self, maps=self.maps[images], logits=self.logits[images], labels=self.labels[images],
                       region=part(self.region), target_map=part(self.target_map))


# objective(reference) -> D(maps, logits) -> (N,) dissimilarity, differentiable.
Objective = Callable[[Reference], Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]


@dataclass(frozen=True)
class Attack:
    name: str
    title: str                  # shown in menus
    description: str            # one short paragraph for teaching, with its reference
    kind: str                   # one of KINDS
    objective: Objective        # the dissimilarity D it maximises (or reports, for "baseline")
    objective_description: str  # what `dissimilarity` in the result measures
    requires: tuple[str, ...] = ()   # attack() parameters that must be given (e.g. "region")


_ATTACKS: dict[str, Attack] = {}


def register(name: str, *, title: str, description: str, kind: str, objective: Objective,
             objective_description: str, requires: tuple[str, ...] = ()) -> Attack:
    """Register the attack `name` (called once by the module that defines it)."""
    if kind not in KINDS:
        raise ValueError(f"attack kind must be one of {KINDS}, got {kind!r}")
    spec = Attack(name, title, description, kind, objective, objective_description, requires)
    _ATTACKS[name] = spec
    return spec


def get_attack(name: str) -> Attack:
    """The registered attack `name`, or a ConfigError listing the valid names."""
    if name not in _ATTACKS:
        raise unknown_name("attack", name, attacks())
    return _ATTACKS[name]


def attacks() -> list[str]:
    """Names of the registered attacks, in menu order."""
    return list(_ATTACKS)
