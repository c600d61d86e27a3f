"""The Model wrapper: a classifier of [0,1] images with its labels and normalisation.

Normalisation lives here so that attacks work, and clip, in pixel space.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from ..errors import FragilityError, ModelError
from ..interrupt import check as check_interrupt
from ..validation import check_images

PROBE_BATCH = 2          # two images: a (N,) output cannot pass for (N, classes)
PROBE_SIZE = 224         # when the model declares no input size
_HALF = (torch.float16, torch.bfloat16)


class ForwardFailed(ModelError):
    """A model whose code came from a file raised; only the exception's type is kept."""


class Model(nn.Module):
    """Wraps `net` (which expects normalised inputs) so that it takes images in [0,1].

    The wrapped module is held by reference, never copied or changed: wrapping does not
    move it, switch its mode or touch its parameters. Every call checks that the module
    returned one (N, classes) tensor of logits. `quiet_errors` (models whose code comes
    from a file) reports exceptions from the module by type only, never their message.
    """

    def __init__(self, net: nn.Module, *, labels: Sequence[str] | None = None,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 input_size: int | None = None, name: str | None = None,
                 domain: str | None = None, dataset_mean=None, quiet_errors: bool = False):
        super().__init__()
        if not isinstance(net, nn.Module):
            raise ModelError(f"expected a torch.nn.Module, got {type(net).__name__}")
        _check_weights(net, name or type(net).__name__)
        if (mean is None) != (std is None):
            raise ModelError("give both mean and std for normalisation, or neither")
        self.net = net
        self.labels = [str(label) for label in labels] if labels is not None else None
        self.input_size = input_size
        self.name = name or type(net).__name__
        # Which sample images suit the model: "synthetic" (bundled), "imagenet" (zoo), None.
        self.domain = domain
        self.quiet_errors = quiet_errors
        self.classes: int | None = len(self.labels) if self.labels is not None else None
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
        check_interrupt()
        batch = tuple(images.shape)
        if self.normalize:
            images = (images - self.mean.to(images.dtype)) / self.std.to(images.dtype)
        if self.quiet_errors:
            try:
                output = self.net(images)
            except FragilityError:
                raise
            except Exception as error:
                raise ForwardFailed(f"{self.name} raised {type(error).__name__} on a batch of "
                                    f"shape {batch} (its message is not shown: the model's "
                                    "own code wrote it)") from None
        else:
            output = self.net(images)
        self._check_output(output, batch)
        check_interrupt()
        return output

    def _check_output(self, output: object, batch: tuple[int, ...]) -> None:
        """One (N, classes) floating tensor of logits, with a label per class if labelled."""
        n = batch[0]
        expected = f"expected one tensor of logits of shape ({n}, classes)"
        if not isinstance(output, torch.Tensor):
            raise ModelError(f"{self.name} returned {_describe(output)} for a batch of shape "
                             f"{batch}; {expected}")
        if output.ndim != 2 or output.shape[0] != n:
            raise ModelError(f"{self.name} returned a tensor of shape {tuple(output.shape)} for "
                             f"a batch of shape {batch}; {expected}")
        if not output.is_floating_point():
            raise ModelError(f"{self.name} returned {output.dtype} values; {expected} "
                             "(floating point)")
        classes = output.shape[1]
        # Under torch.func transforms (vmap, grad) no value can be read; the caller's own
        # untransformed calls are checked.
        if not torch._C._are_functorch_transforms_active() and \
                not bool(torch.isfinite(output.detach()).all()):
            raise ModelError(f"{self.name} returned NaN or infinite logits for a batch of shape "
                             f"{batch}; check its weights (fragility refuses non-finite weights "
                             "when it loads them) and its forward pass")
        if classes < 2:
            raise ModelError(f"{self.name} returned one score per image (shape "
                             f"{tuple(output.shape)}); expected one logit per class, at least 2")
        if self.labels is not None and len(self.labels) != classes:
            raise ModelError(f"{self.name} returns {classes} class logits but has "
                             f"{len(self.labels)} labels; give exactly {classes} labels, "
                             "one per class in order")

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
    The new wrapper is checked at once with one probe batch (see `probe`). A `Model`
    given with no new metadata is returned as it is.
    """
    if isinstance(module, Model):
        if all(value is None for value in (labels, mean, std, input_size, name, dataset_mean)):
            return module
        model = Model(module.net if not module.normalize or mean is not None else module,
                      labels=labels if labels is not None else module.labels,
                      mean=mean, std=std,
                      input_size=input_size if input_size is not None else module.input_size,
                      name=name or module.name, domain=module.domain,
                      dataset_mean=dataset_mean if dataset_mean is not None or mean is not None
                      else module.dataset_mean,
                      quiet_errors=module.quiet_errors)
    else:
        model = Model(module, labels=labels, mean=mean, std=std, input_size=input_size,
                      name=name, dataset_mean=dataset_mean)
    probe(model)
    return model


def probe(model: Model) -> None:
    """Run `model` once on a small batch of random images and check what it returns.

    The batch is (2, 3, S, S) with S the model's input size. A model that returns
    anything but (2, classes) logits, too few classes, a class count other than its
    number of labels, or NaN raises ModelError saying what it returned. Without a
    declared input size S is 224 and a model that fails at that size is not judged
    (it may need another size); what it returns is still checked.
    """
    size = model.input_size or PROBE_SIZE
    images = torch.rand(PROBE_BATCH, 3, size, size, generator=torch.Generator().manual_seed(0))
    images = images.to(device=model.device, dtype=_float_dtype(model))
    where = (f"a probe batch of shape {tuple(images.shape)} (random images in [0,1] at its "
             f"input size {size})")
    with evaluation(model), torch.no_grad():
        try:
            output = model(images)
        except ForwardFailed as error:    # a file's code: its message stays unshown
            if model.input_size is None:
                return
            raise ModelError(f"{error}; it must take {where}") from None
        except FragilityError:
            raise
        except Exception as error:        # your own module: its message helps
            if model.input_size is None:
                return
            raise ModelError(f"{model.name} failed on {where}: "
                             f"{type(error).__name__}: {error}") from error
    if not torch.isfinite(output).all():
        raise ModelError(f"{model.name} returned NaN or infinite logits for {where}")
    model.classes = output.shape[1]


def _describe(value: object) -> str:
    if value is None:
        return "None"
    if isinstance(value, (tuple, list)):
        kinds = ", ".join(type(item).__name__ for item in value[:4])
        return f"a {type(value).__name__} of {len(value)} items ({kinds})"
    if isinstance(value, dict):
        return f"a dict with keys {list(value)[:4]}"
    return f"a {type(value).__name__}"


def _check_weights(net: nn.Module, name: str) -> None:
    """Weights that hold values, in a precision maps and rank metrics can be computed in.

    Cheap (no value is read), so it runs at every call of the API as well as at loading:
    a model made half precision or moved to the meta device after loading is caught too.
    """
    tensors = list(net.parameters()) + list(net.buffers())
    if any(tensor.is_meta for tensor in tensors):
        raise ModelError(f"{name} has its weights on the meta device (shapes without values, "
                         "as after device='meta' or init_empty_weights); load real weights "
                         "first, e.g. net.to_empty(device='cpu') then net.load_state_dict(...)")
    half = next((t.dtype for t in tensors if t.is_floating_point() and t.dtype in _HALF), None)
    if half is not None:
        raise ModelError(f"{name} computes in {str(half).replace('torch.', '')}: saliency maps "
                         "and their rank metrics need float32 or float64 (in half precision "
                         "the ranks of thousands of pixels collide and Spearman becomes NaN); "
                         "pass a float32 copy, copy.deepcopy(net).float()")


def _float_dtype(model: nn.Module) -> torch.dtype:
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def as_model(model: nn.Module) -> Model:
    """The API's entry point for models: any module becomes a `Model` (no copy).

    A `Model` is checked again here, as the caller may have changed its precision or
    device since it was loaded.
    """
    if isinstance(model, Model):
        _check_weights(model, model.name)
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
