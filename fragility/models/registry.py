"""Model names -> builders: the single source for menus, the CLI and tests."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .model import Model

# A builder takes (device, weights) and returns a ready Model in eval mode.
Builder = Callable[[torch.device, "str | Path | None"], Model]
_BUILDERS: dict[str, Builder] = {}


def register_model(name: str, builder: Builder) -> None:
    """Offer `builder` under `name` in load_model() and models()."""
    _BUILDERS[name] = builder


def get_builder(name: str) -> Builder | None:
    return _BUILDERS.get(name)


def models() -> list[str]:
    """Names load_model() accepts, the offline default ("bundled") first."""
    return list(_BUILDERS)


def resolve_device(device: torch.device | str | None) -> torch.device:
    """CUDA when available and no device is asked for, else the asked-for device."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
