"""Your own model: a TorchScript file, or a state dict for a known architecture.

Nothing here runs code from a state-dict file: they are read with
`torch.load(weights_only=True)` (or safetensors), and a pickled full module is refused
before anything in it executes. A TorchScript file is different by design: it runs the
code it contains (its forward, and any `__setstate__` while loading), so only load
TorchScript files you trust. A model loaded from a TorchScript file reports its own
errors by their type only (see `Model.quiet_errors`): what its code says could be the
contents of a file it read.

A file is a path, or a `ModelFile` (a name and the bytes, e.g. an upload), so that
messages name the file the user knows and nothing is written to disk.
"""

from __future__ import annotations

import io
import json
import pickle
import pickletools
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch
from torch import nn

from ..errors import ModelError
from .model import Model

_REFUSED = ("{name} holds pickled Python objects (for example a whole model saved with "
            "torch.save(model)); loading it would run code from the file, so it is refused "
            "and nothing in it was run. Save `model.state_dict()` and load it with "
            "load_model('<architecture>', weights=path), or save a TorchScript file "
            "(torch.jit.script(model).save(path)) and load it with load_model(path)")
# Beyond a network's own tensors, a torch.save archive holds data.pkl, version, byteorder,
# .data/serialization_id and the like; a state dict may carry a few extra tensors too.
_EXTRA_ENTRIES = 16
_WIDEST_ELEMENT = 8            # bytes: float64 / int64
_PICKLE_BYTES_PER_TENSOR = 1024
_NOT_A_MODEL = ("{name} is not a model file PyTorch can read: not a state dict saved by "
                "torch.save, not safetensors and not TorchScript")


@dataclass(frozen=True)
class ModelFile:
    """A model or weights file in memory: its name (for messages) and its bytes."""

    name: str
    data: bytes

    def __str__(self) -> str:
        return self.name

    @property
    def stem(self) -> str:
        return Path(self.name).stem or "model"


Source = str | Path | ModelFile


def _existing(source: Source) -> Path | ModelFile:
    if isinstance(source, ModelFile):
        return source
    path = Path(source).expanduser()
    if path.is_dir():
        raise ModelError(f"{path} is a folder; give the path of a model file")
    if not path.is_file():
        raise ModelError(f"no such model file: {path}")
    return path


def _open(source: Path | ModelFile) -> BinaryIO:
    return io.BytesIO(source.data) if isinstance(source, ModelFile) else source.open("rb")


def _head(source: Path | ModelFile, size: int) -> bytes:
    with _open(source) as handle:
        return handle.read(size)


def _is_safetensors(source: Path | ModelFile) -> bool:
    head = _head(source, 9)
    # safetensors: an 8-byte little-endian header length, then a JSON header.
    return len(head) == 9 and head[8:9] == b"{"


def _zip_entries(source: Path | ModelFile) -> list[zipfile.ZipInfo] | None:
    """The directory of a zip archive (torch.save and TorchScript both write one), else None.

    Reading the directory inflates nothing: it lists each entry's stored and inflated size.
    """
    with _open(source) as handle:
        if not zipfile.is_zipfile(handle):
            return None
        handle.seek(0)
        try:
            with zipfile.ZipFile(handle) as archive:
                return archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return None


def _size(source: Path | ModelFile) -> int:
    return len(source.data) if isinstance(source, ModelFile) else source.stat().st_size


def _check_archive(source: Path | ModelFile, entries: list[zipfile.ZipInfo],
                   fits: nn.Module | None) -> None:
    """Refuse, before torch.load inflates anything, an archive that would grow far past its
    size (a compression bomb) or past what the architecture `fits` can hold."""
    name, size = str(source), _size(source)
    inflated = sum(entry.file_size for entry in entries)
    # torch.save stores its entries uncompressed: a state dict inflates to about its size.
    if inflated > 2 * size + (1 << 20):
        raise ModelError(f"{name} would inflate from {_mb(size)} to {_mb(inflated)} when read "
                         "(a compressed archive; torch.save writes its entries uncompressed), "
                         "so it is refused before anything in it is unpacked")
    if fits is None:
        return
    expected = fits.state_dict()
    most_entries = len(expected) + _EXTRA_ENTRIES
    if len(entries) > most_entries:
        raise ModelError(f"{name} holds {len(entries):,} entries; the architecture's weights "
                         f"({len(expected)} tensors) take at most {most_entries}, so it is "
                         "refused before it is read")
    most_bytes = (sum(tensor.numel() for tensor in expected.values()) * _WIDEST_ELEMENT
                  + len(expected) * _PICKLE_BYTES_PER_TENSOR + (1 << 20))
    if inflated > most_bytes:
        raise ModelError(f"{name} holds {_mb(inflated)} of data; the architecture's weights "
                         f"need at most {_mb(most_bytes)}, so it is refused before it is read")


def _check_safetensors_header(source: Path | ModelFile, fits: nn.Module | None) -> None:
    """Refuse a safetensors file that lists far more tensors than the architecture has."""
    if fits is None:
        return
    head = _head(source, 8)
    length = int.from_bytes(head, "little")
    if length > _size(source) - 8:
        return          # safetensors itself refuses the lying header, with its own message
    with _open(source) as handle:
        handle.seek(8)
        try:
            header = json.loads(handle.read(length))
        except (ValueError, UnicodeDecodeError):
            return
    tensors = len(header) - ("__metadata__" in header) if isinstance(header, dict) else 0
    expected = len(fits.state_dict())
    if tensors > expected + _EXTRA_ENTRIES:
        raise ModelError(f"{source} lists {tensors:,} tensors; the architecture's weights are "
                         f"{expected}, so it is refused before it is read")


def _mb(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"


def _entry_names(entries: list[zipfile.ZipInfo] | None) -> list[str] | None:
    return None if entries is None else [entry.filename for entry in entries]


def _is_torchscript(names: list[str] | None) -> bool:
    return names is not None and any("/code/" in name or name.startswith("code/")
                                     for name in names)


def _pickle_stream(source: Path | ModelFile, names: list[str] | None) -> bytes:
    """The pickle that torch.load would read first: data.pkl of the archive, or the file."""
    if names is None:
        return _head(source, 1 << 20)
    entry = next((name for name in names if name.endswith("data.pkl")), None)
    if entry is None:
        return b""
    with _open(source) as handle, zipfile.ZipFile(handle) as archive:
        with archive.open(entry) as stream:
            return stream.read(1 << 20)


def _parses_as_pickle(data: bytes) -> bool:
    """True if `data` starts with a complete pickle. Only parses opcodes; runs nothing."""
    try:
        for opcode, _, _ in pickletools.genops(io.BytesIO(data)):
            if opcode.name == "STOP":
                return True
    except Exception:  # any malformed stream: not a pickle
        return False
    return False


def read_state_dict(source: Source, fits: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """Tensors from a state-dict file (torch.save'd dict or safetensors), running no code.

    Before anything is unpacked, a zip archive that would inflate far past its own size is
    refused, and so is one with more entries or data than the network `fits` (when given)
    can hold: a small upload can ask for no more memory than real weights need.
    """
    source = _existing(source)
    name = str(source)
    if _is_safetensors(source):
        _check_safetensors_header(source, fits)
        state = _read_safetensors(source, name)
    else:
        entries = _zip_entries(source)
        names = _entry_names(entries)
        if _is_torchscript(names):
            raise ModelError(f"{name} is a TorchScript file (a model with its code), not a "
                             "state dict; load it with load_model(path), or save "
                             "`model.state_dict()` for load_model('<architecture>', weights=path)")
        if entries is not None:
            _check_archive(source, entries, fits)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Detected pickle protocol")
                with _open(source) as handle:
                    state = torch.load(handle, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as error:
            if _parses_as_pickle(_pickle_stream(source, names)):
                raise ModelError(_REFUSED.format(name=name)) from error
            raise ModelError(_NOT_A_MODEL.format(name=name)) from error
        except Exception as error:  # torch.load raises many kinds on garbage input
            raise ModelError(_NOT_A_MODEL.format(name=name)) from error
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]  # the common {"state_dict": ..., "epoch": ...} checkpoint
    if not isinstance(state, Mapping) or not all(
            isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state.items()):
        raise ModelError(f"{name} does not hold a state dict (a mapping of names to tensors), "
                         f"got {type(state).__name__}")
    return dict(state)


def _read_safetensors(source: Path | ModelFile, name: str) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load, load_file
    try:
        if isinstance(source, ModelFile):
            return load(source.data)
        return load_file(str(source))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelError(f"{name} is not a readable safetensors file "
                         f"({type(error).__name__})") from error


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
    broken = [key for key, value in state.items()
              if value.is_floating_point() and not bool(torch.isfinite(value).all())]
    if broken:
        raise ModelError(f"the weights in {source} hold NaN or infinite values (in "
                         f"{_listing(sorted(broken))}); every map and metric would be NaN, so "
                         "they are refused")
    net.load_state_dict(state, strict=True)


def _listing(items: list[str], limit: int = 8) -> str:
    if not items:
        return "none"
    shown = [item if len(item) <= 80 else item[:80] + "…" for item in items[:limit]]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(shown) + more


def load_torchscript(source: Source, device: torch.device) -> Model:
    """A TorchScript classifier of [0,1] images. It runs the code stored in the file."""
    source = _existing(source)
    name = str(source)
    entries = _zip_entries(source)
    if not _is_torchscript(_entry_names(entries)):
        read_state_dict(source)   # raises the precise reason (pickled module, garbage ...)
        raise _state_dict_hint(name)
    _check_archive(source, entries, fits=None)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*torch.jit.load.* is deprecated")
            with _open(source) as handle:
                net = torch.jit.load(handle, map_location=device)
    except Exception as error:  # its own __setstate__ code may raise: report the type only
        raise ModelError(f"{name} could not be loaded as TorchScript ({type(error).__name__} "
                         "while loading; the message is not shown because the file's own "
                         "code may have written it)") from None
    stem = source.stem if isinstance(source, ModelFile) else source.stem
    return Model(net, name=stem, quiet_errors=True).eval()


def _state_dict_hint(name: str) -> ModelError:
    return ModelError(f"{name} is a state dict (weights without an architecture); load it "
                      "with load_model('<architecture>', weights=path), e.g. 'resnet18', "
                      "or wrap your own module with fragility.wrap_model")
