"""The softplus surrogate: ReLU replaced by softplus(beta) while a context is active.

For ReLU networks the gradient of a saliency map with respect to the input is zero
almost everywhere (the map is piecewise constant in x), so an attack cannot follow it.
Inside `softplus_relu(beta)` every ReLU -- `nn.ReLU` modules and the functional forms
`F.relu`, `torch.relu`, `Tensor.relu` and their in-place variants -- computes
softplus(beta) instead, which gives the attack a useful second-order signal. Nothing is
patched or copied: a `TorchFunctionMode` (thread-local) intercepts the calls, and it is
gone when the block ends, also on error. As beta grows, softplus(beta) tends to ReLU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

DEFAULT_BETA = 10.0

_RELU = {F.relu, torch.relu, torch.Tensor.relu}
_RELU_INPLACE = {F.relu_, torch.relu_, torch.Tensor.relu_}


class ReluReplacement(TorchFunctionMode):
    """Routes every ReLU call through `self.replace(x)`; in-place forms stay in place."""

    def replace(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _RELU or func in _RELU_INPLACE:
            x = args[0]
            inplace = func in _RELU_INPLACE or bool(kwargs.get("inplace", args[1] if len(args) > 1 else False))
            if not inplace:
                return self.replace(x)
            # Keep in-place semantics (callers may ignore the return value) without
            # overwriting a tensor that the replacement saved for its backward pass.
            return x.copy_(self.replace(x.clone()))
        return func(*args, **kwargs)


class softplus_relu(ReluReplacement):
    """Context manager: ReLU -> softplus(beta) = log(1 + exp(beta * x)) / beta."""

    def __init__(self, beta: float = DEFAULT_BETA):
        super().__init__()
        self.beta = float(beta)

    def replace(self, x: torch.Tensor) -> torch.Tensor:
        return F.softplus(x, beta=self.beta)


def describe(beta: float) -> str:
    """How the attack's gradient was taken, for the result's record."""
    return f"ReLU replaced by softplus(beta={beta:g}) for the attack gradient; checked on the real network"
