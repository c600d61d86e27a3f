"""The one place gradients of the model are taken.

Every explainer is a function of (model, x, target) that returns an `Explanation`:
the attributions (N,C,H,W) and the logits the model gave for `x` itself, so that an
attack can read the predicted label from the same pass that produced the map.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from ..errors import InputError, ModelError


class Explanation(NamedTuple):
    attributions: torch.Tensor  # (N,3,H,W), or (N,1,H,W) for class-activation maps
    logits: torch.Tensor        # (N,classes) at the explained input


def requiring_grad(x: torch.Tensor) -> torch.Tensor:
    """`x` itself when it is already part of a graph we differentiate, else a leaf copy."""
    return x if x.requires_grad else x.detach().requires_grad_(True)


def pick_target(logits: torch.Tensor, target: torch.Tensor | int | None) -> torch.Tensor:
    """The class explained per image: the given one(s), or the predicted class."""
    n, classes = logits.shape
    if target is None:
        return logits.detach().argmax(dim=1)
    target = torch.as_tensor(target, device=logits.device, dtype=torch.long).reshape(-1)
    if target.numel() == 1:
        target = target.expand(n)
    if target.numel() != n:
        raise InputError(f"target needs one class per image ({n}), got {target.numel()}")
    if bool((target < 0).any()) or bool((target >= classes).any()):
        raise InputError(f"target classes must lie in [0, {classes - 1}], got {target.tolist()}")
    return target


def selected_logits(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum over the batch of each image's target logit (each image's gradient is its own)."""
    return logits.gather(1, target.reshape(-1, 1)).sum()


def gradient(output: torch.Tensor, inputs: torch.Tensor | tuple[torch.Tensor, ...],
             create_graph: bool = False):
    """d output / d inputs; keeps the graph when an attack differentiates the result."""
    single = isinstance(inputs, torch.Tensor)
    if not output.requires_grad:
        raise ModelError("the model's logits do not depend on the input image (no gradient "
                         "flows back from them), so there is nothing to explain: a model whose "
                         "output is constant, detached or computed under torch.no_grad() cannot "
                         "be explained or attacked")
    grads = torch.autograd.grad(output, (inputs,) if single else inputs,
                                create_graph=create_graph, allow_unused=True)
    grads = tuple(torch.zeros_like(i) if g is None else g
                  for g, i in zip(grads, (inputs,) if single else inputs))
    return grads[0] if single else grads


def target_gradient(model, inputs: torch.Tensor, target, create_graph: bool = False, *,
                    explained: int | None = None, scored: slice = slice(None),
                    per_row: Callable[[torch.Tensor], torch.Tensor] | None = None,
                    wrt: torch.Tensor | Callable[[], torch.Tensor] | None = None):
    """The forward -> target -> gradient sequence every method shares.

    One forward pass of `inputs`, whose first `explained` rows (default: all) are the
    explained images: their logits pick the target (the given class, or the prediction).
    The target logit of each row in `scored` -- row r's class is per_row(target)[r],
    per_row defaulting to the identity -- is differentiated with respect to `wrt`: the
    inputs by default, or a tensor (a callable, when it appears only during the forward,
    as a hooked layer's output). Returns (gradient, logits of the explained rows, target).
    """
    inputs = requiring_grad(inputs) if wrt is None else inputs
    logits = model(inputs)
    explained_logits = logits if explained is None else logits[:explained]
    target = pick_target(explained_logits, target)
    rows_target = target if per_row is None else per_row(target)
    respect = inputs if wrt is None else (wrt() if callable(wrt) else wrt)
    grad = gradient(selected_logits(logits[scored], rows_target), respect, create_graph)
    return grad, explained_logits, target


def input_gradient(model, x: torch.Tensor, target=None, create_graph: bool = False) -> Explanation:
    """Gradient of the target logit with respect to the input, with the logits at x."""
    grad, logits, _ = target_gradient(model, requiring_grad(x), target, create_graph)
    return Explanation(grad, logits)


def saliency_map(attributions: torch.Tensor) -> torch.Tensor:
    """(N,C,H,W) attributions -> (N,H,W) map: |a| summed over channels, each summing to 1.

    A map with no mass at all (a zero gradient) becomes uniform rather than NaN.
    """
    magnitude = attributions.abs().sum(dim=1)
    total = magnitude.sum(dim=(1, 2), keepdim=True)
    uniform = torch.full_like(magnitude, 1.0 / magnitude[0].numel())
    return torch.where(total > 0, magnitude / total.clamp_min(torch.finfo(magnitude.dtype).tiny), uniform)
