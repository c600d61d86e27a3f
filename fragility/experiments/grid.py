"""The grid of a sweep: configurations x chunks of images = shards, and what is left to do.

A configuration is everything about one attack call but its images (method, attack, eps,
seed, criterion, defence, and the attack parameters a sweep may vary: k, beta). A shard is one configuration on one chunk of images: one
attack call, whose rows are written together. Chunks are fixed slices of the image list,
so a shard that is run again (after a crash) sees the same batch and gives the same rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from ..attacks import get_attack
from ..explainers import get_method

NO_DEFENCE = "none"
BASELINE = "random-sign"
# Numeric attack parameters a sweep takes as axes; each has a column of its own in the rows.
PARAMETER_AXES = ("k", "beta")


@dataclass(frozen=True)
class Configuration:
    method: str
    attack: str
    epsilon: float               # L-inf radius in [0,1] units
    seed: int
    # The dissimilarity that picks the returned perturbation: the attack's own for an
    # interpretation attack; for random sign, that of the attack it is the baseline of.
    criterion: str
    defence: str = NO_DEFENCE
    k: int | None = None          # None: the attack's default
    beta: float | None = None     # None for an attack without a softplus surrogate (random sign)

    def key(self, image_id: str) -> tuple:
        """The identity of one row of this configuration: no two rows share it."""
        return (image_id, self.method, self.attack, self.criterion, self.defence, self.epsilon, self.seed,
                self.k, self.beta)

    def parameters(self) -> dict:
        """The axis parameters this configuration gives the attack."""
        return {name: getattr(self, name) for name in PARAMETER_AXES if getattr(self, name) is not None}


def row_key(row: dict) -> tuple:
    return (row["image_id"], row["method"], row["attack"], row["criterion"], row["defence"],
            row["epsilon"], row["seed"], _known(row.get("k")), _known(row.get("beta")))


def _known(value):
    """None for a missing value (null in Parquet, NaN in pandas), else the value."""
    return None if value is None or value != value else value


@dataclass(frozen=True)
class Settings:
    """What every attack call of a sweep shares; rows record it."""
    model: str                    # the model's name in the rows
    steps: int
    step_size: float
    method_options: dict = field(default_factory=dict)   # method -> its options

    def options(self, method: str) -> dict:
        return dict(self.method_options.get(method, {}))


@dataclass(frozen=True)
class Shard:
    configuration: Configuration
    image_ids: tuple[str, ...]

    @property
    def id(self) -> str:
        """A name for the shard's part file: the same work always gets the same name."""
        text = json.dumps([asdict(self.configuration), list(self.image_ids)], sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:20]


def configurations(methods: Iterable[str], attacks: Iterable[str], epsilons: Iterable[float],
                   seeds: Iterable[int], defences: Iterable[str], criteria: dict[str, list[str]],
                   parameters: dict[str, list] | None = None) -> list[Configuration]:
    """Every combination, in order; `criteria[attack]` lists the criteria of each attack and
    `parameters[name]` the values of each axis parameter (only for attacks that declare it)."""
    parameters = parameters or {}

    def values(attack: str, name: str) -> list:
        return parameters.get(name, [None]) if get_attack(attack).parameter(name) is not None else [None]

    return [Configuration(method, attack, epsilon, seed, criterion, defence, k, beta)
            for method in methods for attack in attacks for criterion in criteria[attack]
            for k in values(attack, "k") for beta in values(attack, "beta")
            for defence in defences for epsilon in epsilons for seed in seeds]


def chunk_size(method: str, options: dict, batch_size: int) -> int:
    """Images per attack call. A method that cannot split a batch into passes (its noise is
    drawn for the whole batch: SmoothGrad) takes `batch_size` network points per call."""
    spec = get_method(method)
    if spec.groupable:
        return batch_size
    return max(1, batch_size // spec.points({**spec.options, **options}))


def shards(configurations: list[Configuration], image_ids: list[str], settings: Settings,
           batch_size: int, done: set[tuple]) -> list[Shard]:
    """The shards still to run: each configuration on fixed chunks of the images, less the
    rows already in `done`."""
    planned = []
    for configuration in configurations:
        size = chunk_size(configuration.method, settings.options(configuration.method), batch_size)
        for start in range(0, len(image_ids), size):
            pending = tuple(image_id for image_id in image_ids[start:start + size]
                            if configuration.key(image_id) not in done)
            if pending:
                planned.append(Shard(configuration, pending))
    return planned
