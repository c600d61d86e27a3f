"""The bundled model: a small ReLU CNN for the generated shapes (fragility.synthetic).

Stride-2 convolutions and global average pooling (no max-pool), nn.ReLU modules, batch
norm. Its weights ship as package data in fragility/assets/models/bundled.safetensors (the
class names, input size and normalisation are written into its metadata too); the
architecture lives here, in code.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from ..errors import ModelError
from ..synthetic import CLASS_NAMES
from .model import Model

ASSETS = Path(__file__).resolve().parents[1] / "assets"   # package data: fragility/assets
BUNDLED_PATH = ASSETS / "models" / "bundled.safetensors"
MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)
INPUT_SIZE = 64
# (output channels, stride) of each 3x3 convolution block.
_BLOCKS = ((24, 1), (32, 2), (48, 1), (64, 2), (96, 1), (128, 2), (128, 1))


def build_net(num_classes: int = 10) -> nn.Sequential:
    """The bundled architecture with freshly initialised weights (expects normalised input)."""
    layers: list[nn.Module] = []
    channels = 3
    for out, stride in _BLOCKS:
        layers += [nn.Conv2d(channels, out, 3, stride=stride, padding=1, bias=False),
                   nn.BatchNorm2d(out), nn.ReLU()]
        channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)


def save_bundled(net: nn.Module, labels: list[str], path: Path, extra: dict | None = None) -> None:
    """Write weights plus metadata (labels, input size, mean, std) as safetensors."""
    from safetensors.torch import save_file

    metadata = {"labels": json.dumps(list(labels)), "input_size": str(INPUT_SIZE),
                "mean": json.dumps(MEAN), "std": json.dumps(STD)}
    metadata.update({key: str(value) for key, value in (extra or {}).items()})
    state = {key: value.detach().cpu().contiguous() for key, value in net.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=metadata)
    path.chmod(0o644)  # safetensors creates the file readable by its owner only


def load_bundled(device: torch.device | str | None = None, weights: str | Path | None = None,
                 path: Path = BUNDLED_PATH) -> Model:
    """The bundled model, offline; `weights` may name another state dict for this architecture."""
    from .custom import load_state_dict_into, read_state_dict

    net = build_net(len(CLASS_NAMES))
    if weights is not None:
        load_state_dict_into(net, read_state_dict(weights), source=str(weights))
    else:
        if not path.is_file():
            raise ModelError(f"the bundled model file is missing: {path}; reinstall fragility "
                             "(pip install --force-reinstall fragility; in a source checkout: "
                             "git checkout -- fragility/assets) or retrain it with "
                             "`fragility train-bundled`")
        try:
            state = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as error:
            raise ModelError(f"the bundled model file {path} is unreadable ({error}); retrain "
                             "it with `fragility train-bundled`") from error
        load_state_dict_into(net, state, source=str(path))
    model = Model(net.eval(), labels=CLASS_NAMES, mean=MEAN, std=STD, input_size=INPUT_SIZE,
                  name="bundled", domain="synthetic")
    return model.to(device).eval()
