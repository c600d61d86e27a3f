"""Named attacks: the single source for menus, the CLI and parametrised tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from ..registry import Parameter, Registry

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
    labels: torch.Tensor               # (N,) predicted classes (kept by the attack)
    k: int                             # features in the top-k set
    values: dict                       # the attack's parameters; region, target_map as (N,H,W)

    def select(self, images: slice) -> Reference:
        """The reference of the images `images` alone (a slice of the batch)."""
        def part(value):
            return value[images] if isinstance(value, torch.Tensor) and value.dim() > 0 else value
        return replace(self, maps=self.maps[images], logits=self.logits[images], labels=self.labels[images],
                       values={name: part(value) for name, value in self.values.items()})


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
    parameters: tuple[Parameter, ...] = ()

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)


ATTACKS: Registry[Attack] = Registry("attack")


def register(name: str, *, title: str, description: str, kind: str, objective: Objective,
             objective_description: str, parameters: tuple[Parameter, ...]) -> Attack:
    """Register the attack `name` (called once by the module that defines it)."""
    if kind not in KINDS:
        raise ValueError(f"attack kind must be one of {KINDS}, got {kind!r}")
    return ATTACKS.add(name, Attack(name, title, description, kind, objective, objective_description,
                                    tuple(parameters)))


def get_attack(name: str) -> Attack:
    """The registered attack `name`, or a ConfigError listing the valid names."""
    return ATTACKS.get(name)


def attacks() -> list[str]:
    """Names of the registered attacks, in menu order."""
    return ATTACKS.names()


def all_parameters() -> dict[str, Parameter]:
    """Every parameter some attack declares, by name (the first declaration of each name)."""
    found: dict[str, Parameter] = {}
    for spec in ATTACKS:
        for parameter in spec.parameters:
            found.setdefault(parameter.name, parameter)
    return found
