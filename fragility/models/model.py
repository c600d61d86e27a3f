"""The Model wrapper: a classifier of [0,1] images with its labels and normalisation.

Normalisation lives here so that attacks work, and clip, in pixel space.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from ..errors import ModelError
from ..validation import check_images


class Model(nn.Module):
    """Wraps `net` (which expects normalised inputs) so that it takes images in [0,1].

    The wrapped module is held by reference, never copied or changed: wrapping does not
    move it, switch its mode or touch its parameters.
    """

    def __init__(self, net: nn.Module, *, labels: Sequence[str] | None = None,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 input_size: int | None = None, name: str | None = None,
                 domain: str | None = None, dataset_mean=None):
        super().__init__()
        if not isinstance(net, nn.Module):
            raise ModelError(f"expected a torch.nn.Module, got {type(net).__name__}")
        if (mean is None) != (std is None):
            raise ModelError("give both mean and std for normalisation, or neither")
        self.net = net
        self.labels = [str(label) for label in labels] if labels is not None else None
        self.input_size = input_size
        self.name = name or type(net).__name__
        # Which sample images suit the model: "synthetic" (bundled), "imagenet" (zoo), None.
        self.domain = domain
        device = _first_device(net)
        self.normalize = mean is not None
        if self.normalize:
            mean_t = torch.as_tensor(mean, dtype=torch.float32, device=device).reshape(1, -1, 1, 1)
            std_t = torch.as_tensor(std, dtype=torch.float32, device=device).reshape(1, -1, 1, 1)
            if mean_t.shape[1] != 3 or std_t.shape[1] != 3 or bool((std_t <= 0).any()):
                raise ModelError(f"mean and std need 3 values each and std > 0, got {mean}, {std}")
            self.register_buffer("mean", mean_t, persistent=False)
            self.register_buffer("std", std_t, persistent=False)
        # The mean image of the training data in [0,1] pixels, (3,H,W) or (3,1,1): the fixed
        # reference of integrated gradients and DeepLIFT. Without one given, the channel
        # means of the normalisation stand in (what torchvision's weights describe).
        if dataset_mean is None and mean is not None:
            dataset_mean = torch.as_tensor(mean, dtype=torch.float32).reshape(3, 1, 1)
        self.register_buffer("dataset_mean", None if dataset_mean is None
                             else _check_dataset_mean(dataset_mean).to(device), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            images = (images - self.mean.to(images.dtype)) / self.std.to(images.dtype)
        return self.net(images)

    @property
    def device(self) -> torch.device:
        return _first_device(self)

    def label_name(self, index: int) -> str:
        """Human-readable name of class `index` (the index itself when labels are unknown)."""
        if self.labels is not None and 0 <= index < len(self.labels):
            return self.labels[index]
        return f"class {index}"

    def extra_repr(self) -> str:
        classes = len(self.labels) if self.labels is not None else "?"
        return f"name={self.name!r}, classes={classes}, input_size={self.input_size}"


def wrap_model(module: nn.Module, labels: Sequence[str] | None = None,
               mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
               input_size: int | None = None, name: str | None = None,
               dataset_mean=None) -> Model:
    """Wrap any classifier of [0,1] images (or of normalised images, given mean/std).

    dataset_mean: the training data's mean image in [0,1] pixels, (3,H,W) or 3 channel
    values (default: `mean`), the fixed reference of integrated gradients and DeepLIFT.
    A `Model` given with no new metadata is returned as it is.
    """
    if isinstance(module, Model):
        if all(value is None for value in (labels, mean, std, input_size, name, dataset_mean)):
            return module
        keep_normalisation = module.normalize and mean is None
        return Model(module if keep_normalisation else module.net,
                     labels=labels if labels is not None else module.labels,
                     mean=mean, std=std,
                     input_size=input_size if input_size is not None else module.input_size,
                     name=name or module.name, domain=module.domain,
                     dataset_mean=dataset_mean if dataset_mean is not None or mean is not None
                     else module.dataset_mean)
    return Model(module, labels=labels, mean=mean, std=std, input_size=input_size, name=name,
                 dataset_mean=dataset_mean)


def as_model(model: nn.Module) -> Model:
    """The API's entry point for models: any module becomes a `Model` (no copy)."""
    if isinstance(model, Model):
        return model
    if not isinstance(model, nn.Module):
        raise ModelError(f"model must be a torch.nn.Module or fragility Model, got {type(model).__name__}")
    return Model(model)


def predict(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted class (N,) and its softmax probability (N,) for images (N,3,H,W) in [0,1]."""
    model = as_model(model)
    images = check_images(images).to(model.device)
    with evaluation(model), torch.no_grad():
        probabilities = model(images).softmax(dim=-1)
    confidence, labels = probabilities.max(dim=-1)
    return labels, confidence


@contextlib.contextmanager
def evaluation(model: nn.Module) -> Iterator[nn.Module]:
    """Put every submodule in eval mode for the block, then restore each one's own flag.

    Explanations are defined for the deployed (eval) network; the caller's training
    flags come back exactly as they were, even when the block raises.
    """
    flags = [(module, module.training) for module in model.modules()]
    try:
        model.eval()
        yield model
    finally:
        for module, training in flags:
            module.training = training


def _check_dataset_mean(value) -> torch.Tensor:
    try:
        mean = torch.as_tensor(value, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as error:
        raise ModelError(f"dataset_mean must be numbers: {error}") from None
    if mean.dim() == 1:
        mean = mean.reshape(-1, 1, 1)
    if mean.dim() != 3 or mean.shape[0] != 3 or not bool(torch.isfinite(mean).all()) \
            or float(mean.min()) < 0 or float(mean.max()) > 1:
        raise ModelError("dataset_mean must be 3 channel values or a (3,H,W) image, in [0,1]; got "
                         f"shape {tuple(mean.shape)}")
    return mean


def _first_device(module: nn.Module) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")
