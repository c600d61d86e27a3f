"""Models: the bundled one (offline), the torchvision zoo, your own files, any module."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch

from ..errors import ConfigError, ModelError
from .bundled import (BUNDLED_PATH, CONTROL_PATH, MANIPULATED_PATH, SHUFFLED_PATH, checkpoint_metadata,
                      load_bundled)
from .custom import ModelFile, load_torchscript
from .model import Model, as_model, predict, probe, wrap_model
from .registry import models, register_model, resolve_device
from .zoo import ZOO, load_zoo

register_model("bundled", lambda device, weights: load_bundled(device, weights))
register_model("bundled-shuffled", lambda device, weights: load_bundled(
    device, weights, path=SHUFFLED_PATH, name="bundled-shuffled"))
register_model("bundled-control", lambda device, weights: load_bundled(
    device, weights, path=CONTROL_PATH, name="bundled-control"))
register_model("bundled-manipulated", lambda device, weights: load_bundled(
    device, weights, path=MANIPULATED_PATH, name="bundled-manipulated"))
for _name in ZOO:
    register_model(_name, partial(load_zoo, _name))


def load_model(name_or_path: str | Path | ModelFile = "bundled",
               device: torch.device | str | None = None,
               weights: str | Path | ModelFile | None = None) -> Model:
    """A ready classifier of [0,1] images, in eval mode, with labels where known.

    `name_or_path`: a name from `models()` ("bundled" works offline; the torchvision names
    download their weights on first use), or a TorchScript file (which runs the code it
    contains: load only files you trust), as a path or a `ModelFile` (name and bytes).
    `weights`: a state-dict file (torch.save'd dict or safetensors) for the named
    architecture, loaded with weights_only=True and strict keys. `device`: CUDA if
    available when None. A TorchScript model is checked with one probe batch.
    """
    from .registry import get_builder

    device = resolve_device(device)
    builder = get_builder(str(name_or_path)) if isinstance(name_or_path, str) else None
    if builder is not None:
        return builder(device, weights)
    if isinstance(name_or_path, ModelFile):
        source, described = name_or_path, f"a model file like {name_or_path.name!r}"
    else:
        path = Path(name_or_path) if isinstance(name_or_path, (str, Path)) else None
        if path is None or not (path.exists() or path.suffix or "/" in str(name_or_path)):
            raise ConfigError(f"unknown model {name_or_path!r}; choose one of: "
                              f"{', '.join(models())}, or give the path of a TorchScript file")
        source, described = path, f"a file path like {str(path)!r}"
    if weights is not None:
        raise ModelError(f"weights= goes with an architecture name ({', '.join(models())}), "
                         f"not with {described}")
    model = load_torchscript(source, device)
    probe(model)
    return model


# The checkpoints shipped with fragility: model name -> file (same architecture).
SHIPPED = {"bundled": BUNDLED_PATH, "bundled-shuffled": SHUFFLED_PATH,
           "bundled-control": CONTROL_PATH, "bundled-manipulated": MANIPULATED_PATH}


def checkpoint_info(name: str = "bundled") -> dict[str, str]:
    """What a shipped checkpoint's file records about it: measured accuracy, recipe, seed.

    For "bundled", "bundled-shuffled", "bundled-control" and "bundled-manipulated" (their model cards say
    more); values are strings, as stored in the safetensors metadata.
    """
    if name not in SHIPPED:
        raise ConfigError(f"no shipped checkpoint {name!r}; choose one of: {', '.join(SHIPPED)}")
    return checkpoint_metadata(SHIPPED[name], name)


__all__ = ["Model", "ModelFile", "as_model", "checkpoint_info", "load_model", "models", "predict",
           "probe", "wrap_model"]
