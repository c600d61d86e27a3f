"""Your own model: a TorchScript file, or a state dict for a known architecture.

Nothing here runs code from a file: state dicts are read with `torch.load(weights_only=True)`
(or safetensors), and a pickled full module is refused before anything in it executes.
A TorchScript file is different by design: it runs the graph it contains (TorchScript
code, not arbitrary Python), so only load TorchScript files you trust.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..errors import ModelError
from .model import Model

_REFUSED = ("{path} holds pickled Python objects (for example a whole model saved with "
            "torch.save(model)); loading it would run code from the file, so it is refused "
            "and nothing in it was run. Save `model.state_dict()` and load it with "
            "load_model('<architecture>', weights=path), or save a TorchScript file "
            "(torch.jit.script(model).save(path)) and load it with load_model(path)")


def _existing_file(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if path.is_dir():
        raise ModelError(f"{path} is a folder; give the path of a model file")
    if not path.is_file():
        raise ModelError(f"no such model file: {path}")
    return path


def _is_safetensors(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(9)
    # safetensors: an 8-byte little-endian header length, then a JSON header.
    return len(head) == 9 and head[8:9] == b"{"


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a state-dict file (torch.save'd dict or safetensors), running no code."""
    path = _existing_file(path)
    if _is_safetensors(path):
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            state = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as error:
            raise ModelError(f"{path} is not a readable safetensors file ({error})") from error
    else:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Detected pickle protocol")
                state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as error:
            raise ModelError(_REFUSED.format(path=path)) from error
        except Exception as error:  # torch.load raises many kinds on garbage input
            raise ModelError(f"{path} is not a readable PyTorch state dict "
                             f"({type(error).__name__}: {str(error)[:200]})") from error
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]  # the common {"state_dict": ..., "epoch": ...} checkpoint
    if not isinstance(state, Mapping) or not all(
            isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state.items()):
        raise ModelError(f"{path} does not hold a state dict (a mapping of names to tensors), "
                         f"got {type(state).__name__}")
    return dict(state)


def load_state_dict_into(net: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Strict load: every key must match in name and shape, else a ModelError naming them."""
    expected = net.state_dict()
    # Older published checkpoints lack batch norm's step counter; torch fills it in.
    missing = sorted(key for key in set(expected) - set(state)
                     if not key.endswith(".num_batches_tracked"))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelError(f"the weights in {source} do not fit {type(net).__name__}: "
                         f"missing keys {_listing(missing)}; unexpected keys {_listing(unexpected)}")
    wrong = [f"{key} {tuple(state[key].shape)} != {tuple(value.shape)}"
             for key, value in expected.items() if key in state and state[key].shape != value.shape]
    if wrong:
        raise ModelError(f"the weights in {source} have wrong shapes: {_listing(wrong)}")
    net.load_state_dict(state, strict=True)


def _listing(items: list[str], limit: int = 8) -> str:
    if not items:
        return "none"
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def load_torchscript(path: str | Path, device: torch.device) -> Model:
    """A TorchScript classifier of [0,1] images. It runs the graph stored in the file."""
    path = _existing_file(path)
    if not zipfile.is_zipfile(path):
        try:
            read_state_dict(path)
        except ModelError as error:
            raise ModelError(f"{path} is not a TorchScript file: {error}") from error
        raise _state_dict_hint(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if not any(name.endswith("constants.pkl") or "/code/" in name for name in names):
        read_state_dict(path)  # raises the refusal for a pickled module
        raise _state_dict_hint(path)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*torch.jit.load.* is deprecated")
            net = torch.jit.load(str(path), map_location=device)
    except Exception as error:  # TorchScript reports corrupt archives as RuntimeError and others
        raise ModelError(f"{path} is not a loadable TorchScript file "
                         f"({type(error).__name__}: {str(error)[:200]})") from error
    return Model(net, name=path.stem).eval()


def _state_dict_hint(path: Path) -> ModelError:
    return ModelError(f"{path} is a state dict (weights without an architecture); load it "
                      "with load_model('<architecture>', weights=path), e.g. 'resnet18', "
                      "or wrap your own module with fragility.wrap_model")
