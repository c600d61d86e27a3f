"""ImageNet classifiers from torchvision's model and weights registry.

Labels and normalisation come from the weights' metadata; the weights download on first
use through torchvision/torch.hub into torch.hub.get_dir()/checkpoints.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn

from ..errors import ModelError
from .custom import load_state_dict_into, read_state_dict
from .model import Model

# squeezenet1_1 is the ImageNet model of Ghorbani, Abid & Zou (2019).
ZOO = ("squeezenet1_1", "resnet18", "resnet50", "vgg16", "densenet121", "mobilenet_v3_large")


def default_weights(name: str) -> torchvision.models.WeightsEnum:
    return torchvision.models.get_model_weights(name).DEFAULT


def cache_file(name: str) -> Path:
    """Where torch.hub keeps (or expects) the weights file of `name`."""
    filename = os.path.basename(urlparse(default_weights(name).url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def architecture(name: str) -> tuple[nn.Module, torchvision.models.WeightsEnum]:
    """The randomly initialised network of `name` and its default weights' description."""
    return torchvision.models.get_model(name, weights=None), default_weights(name)


def wrap_zoo(name: str, net: nn.Module, weights: torchvision.models.WeightsEnum) -> Model:
    transforms = weights.transforms()
    return Model(net, labels=weights.meta["categories"], mean=transforms.mean,
                 std=transforms.std, input_size=transforms.crop_size[0], name=name,
                 domain="imagenet").eval()


def load_zoo(name: str, device: torch.device, weights_path: str | Path | None = None) -> Model:
    """A zoo model with its pretrained weights (downloaded once), or the weights in a file."""
    net, weights = architecture(name)
    if weights_path is not None:
        load_state_dict_into(net, read_state_dict(weights_path, fits=net), source=str(weights_path))
    else:
        load_state_dict_into(net, _pretrained_state(name, weights), source=str(cache_file(name)))
    return wrap_zoo(name, net, weights).to(device).eval()


def _pretrained_state(name: str, weights: torchvision.models.WeightsEnum) -> dict:
    target = cache_file(name)
    try:
        state = weights.get_state_dict(progress=False, check_hash=True, weights_only=True)
    except Exception as error:  # no network, a proxy, a hash mismatch, a partial file ...
        raise ModelError(
            f"could not get the weights of {name!r} ({type(error).__name__}: "
            f"{str(error)[:200]}). Download {weights.url} and place it as the file "
            f"{target.name!r} in the folder {str(target.parent)!r}; then load_model({name!r}) "
            "works offline. The bundled model (load_model('bundled')) always works offline."
        ) from error
    if name.startswith("densenet"):
        state = _densenet_keys(state)
    return state


def _densenet_keys(state: dict) -> dict:
    # torchvision's DenseNet checkpoints use the old "norm.1" key style (see
    # torchvision.models.densenet._load_state_dict); rename to "norm1".
    pattern = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|"
                         r"running_mean|running_var))$")
    renamed = {}
    for key, value in state.items():
        match = pattern.match(key)
        renamed[match.group(1) + match.group(2) if match else key] = value
    return renamed
