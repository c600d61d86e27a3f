"""The bundled model: a small ReLU CNN for the generated shapes (fragility.synthetic).

Stride-2 convolutions and global average pooling (no max-pool), nn.ReLU modules, batch
norm. Its weights ship as package data in fragility/assets/models/bundled.safetensors (the
class names, input size and normalisation are written into its metadata too, and the
pixel-wise mean image of its training data is stored beside the weights as the tensor
DATASET_MEAN_KEY: the fixed reference of integrated gradients and DeepLIFT); the
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
# Same architecture, other weights: trained on shuffled labels (`fragility train-bundled
# --shuffle-labels`), its control on the same images' true labels (`--control`), and
# fine-tuned to move its gradient maps (`fragility manipulate`).
SHUFFLED_PATH = BUNDLED_PATH.parent / "bundled-shuffled.safetensors"
CONTROL_PATH = BUNDLED_PATH.parent / "bundled-control.safetensors"
MANIPULATED_PATH = BUNDLED_PATH.parent / "bundled-manipulated.safetensors"
MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)
INPUT_SIZE = 64
DATASET_MEAN_KEY = "_dataset_mean"   # (3,64,64) in [0,1]; not a parameter of the network
# (output channels, stride) of each 3x3 convolution block.
_REMAKE = {"bundled": "`fragility train-bundled`",
           "bundled-shuffled": "`fragility train-bundled --shuffle-labels`",
           "bundled-control": "`fragility train-bundled --control`",
           "bundled-manipulated": "`fragility manipulate`"}
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


def save_bundled(net: nn.Module, labels: list[str], path: Path, extra: dict | None = None,
                 dataset_mean: torch.Tensor | None = None) -> None:
    """Write weights plus metadata (labels, input size, mean, std) as safetensors, with the
    training data's mean image when given."""
    from safetensors.torch import save_file

    metadata = {"labels": json.dumps(list(labels)), "input_size": str(INPUT_SIZE),
                "mean": json.dumps(MEAN), "std": json.dumps(STD)}
    metadata.update({key: str(value) for key, value in (extra or {}).items()})
    state = {key: value.detach().cpu().contiguous() for key, value in net.state_dict().items()}
    if dataset_mean is not None:
        state[DATASET_MEAN_KEY] = dataset_mean.detach().cpu().float().contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=metadata)
    path.chmod(0o644)  # safetensors creates the file readable by its owner only


def checkpoint_metadata(path: Path, name: str = "bundled") -> dict[str, str]:
    """The metadata a shipped checkpoint was written with (measured accuracy, recipe, ...)."""
    from safetensors import safe_open

    if not path.is_file():
        raise _missing(path, name)
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelError(f"the {name} model file {path} is unreadable ({error})") from error


def load_bundled(device: torch.device | str | None = None, weights: str | Path | None = None,
                 path: Path = BUNDLED_PATH, name: str = "bundled") -> Model:
    """The bundled model, offline; `weights` may name another state dict for this architecture.

    `path` and `name`: another shipped checkpoint of this architecture and its model name.
    """
    from .custom import load_state_dict_into, read_state_dict

    net = build_net(len(CLASS_NAMES))
    shipped = _read(path, name) if weights is None or path.is_file() else {}
    # The training data, and so its mean image, is the same for any weights of this
    # architecture trained by `fragility train-bundled`.
    dataset_mean = shipped.pop(DATASET_MEAN_KEY, None)
    if weights is not None:
        state = read_state_dict(weights, fits=net)
        state.pop(DATASET_MEAN_KEY, None)
        load_state_dict_into(net, state, source=str(weights))
    else:
        load_state_dict_into(net, shipped, source=str(path))
    model = Model(net.eval(), labels=CLASS_NAMES, mean=MEAN, std=STD, input_size=INPUT_SIZE,
                  name=name, domain="synthetic", dataset_mean=dataset_mean)
    return model.to(device).eval()


def _read(path: Path, name: str = "bundled") -> dict:
    if not path.is_file():
        raise _missing(path, name)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelError(f"the {name} model file {path} is unreadable ({error}); remake it "
                         f"with {_REMAKE.get(name, _REMAKE['bundled'])}") from error


def _missing(path: Path, name: str) -> ModelError:
    return ModelError(f"the {name} model file is missing: {path}; reinstall fragility "
                      "(pip install --force-reinstall fragility; in a source checkout: "
                      "git checkout -- fragility/assets) or remake it with "
                      f"{_REMAKE.get(name, _REMAKE['bundled'])}")
