"""Engines run a sweep's shards: `local` in this process, `ray` on a Ray cluster.

An engine knows its model (`info`: name, input size, domain) and runs shards, handing each
shard's rows to `on_rows` as it finishes; `on_rows` returning False stops it. Only
engines/ray.py imports ray, and only when the ray engine is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class ModelInfo:
    name: str                  # the model's name in the rows
    input_size: int | None     # images are loaded at this size
    domain: str | None         # "synthetic", "imagenet": which sample images suit it


def make_engine(engine: str, model, weights=None, device=None, address: str | None = None):
    """The engine `engine` for `model` (a name, a file, or for `local` a module too)."""
    from ...errors import unknown_name

    if engine == "local":
        from .local import LocalEngine
        return LocalEngine(model, weights, device)
    if engine == "ray":
        from .ray import RayEngine
        return RayEngine(model, weights, device, address)
    raise unknown_name("engine", engine, list(ENGINES))
