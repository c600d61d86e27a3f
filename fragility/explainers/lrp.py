"""Layer-wise relevance propagation (Bach et al., 2015), with zennit's rules.

The target logit is handed down the network layer by layer: each convolution or dense
layer shares the relevance of its outputs among its inputs by a rule (epsilon, z+,
alpha-beta, flat, z^B), ReLUs pass it on, average pooling shares it in proportion to its
inputs. zennit implements each rule as a hook that replaces the layer's gradient, so the
relevance is one `autograd.grad` of the target logit, and with `create_graph=True` a
graph back to the input that the attack differentiates once the hooks are gone.

What stays untouched: zennit's hooks and canonizers (batch norm merged into the layer
before it, torchvision ResNet blocks' additions made a module) go on a twin of the model,
a copy of its module tree whose parameters and buffers share the original's storage
without being the same tensor objects. The caller's model never carries a hook or a
changed weight, not even during the call, so another thread may use it meanwhile.

The model wrapper normalises inside the model, so the network's first layer sees
(x - mean) / std, not x: the bounds of the z^B rule are the normalised 0 and 1 pixels,
and the relevance of a pixel is the gradient with respect to x times std (the rule's
output at the first layer, before the normalisation's chain rule divides it by std).
The output relevance is the target logit, as in captum's `LRP`.

Attack surrogate: the project's softplus surrogate (the method's default), i.e. the
same rules on the network with every ReLU replaced by softplus(beta). zennit's
`ReLUBetaSmooth` rule was the other candidate; it only swaps the ReLUs' backward pass for
sigmoid(beta z). In LRP the ReLUs pass relevance unchanged, so that rule would change the
map being attacked instead of smoothing it, the activations the rules divide by would
still bend at every ReLU kink, and it reaches `nn.ReLU` modules only, not `F.relu`.
Under softplus the relevance is a smooth function of the input at every layer; it is
also exactly what the beta-smoothing defence computes for LRP.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
from collections.abc import Callable, Iterator

import torch
from torch import nn
from zennit.composites import EpsilonAlpha2Beta1, EpsilonGammaBox, EpsilonPlusFlat
from zennit.core import Composite, collect_leaves
from zennit.canonizers import CompositeCanonizer, SequentialMergeBatchNorm
from zennit.torchvision import ResNetBasicBlockCanonizer, ResNetBottleneckCanonizer
from zennit.types import Linear as LinearLayer

from ..errors import ModelError
from ..models.model import Model
from ._core import Explanation, pick_target, requiring_grad
from .registry import register

BASE = "Bach et al., 2015; zennit rules, Anders et al., 2021"


def normalised(model: nn.Module, pixels: torch.Tensor) -> torch.Tensor:
    """`pixels` as the network's first layer sees them: through every wrapper's mean/std."""
    for module in model.modules():   # outermost wrapper first, as in the forward pass
        if isinstance(module, Model) and module.normalize:
            pixels = (pixels - module.mean.to(pixels.dtype)) / module.std.to(pixels.dtype)
    return pixels


def _pixel_bounds(model: nn.Module, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The normalised values of a black (0) and a white (1) pixel, (1,3,1,1) each."""
    zero = torch.zeros(1, 3, 1, 1, dtype=like.dtype, device=like.device)
    return normalised(model, zero), normalised(model, zero + 1)


def twin(model: nn.Module) -> nn.Module:
    """A copy of `model`'s modules whose parameters and buffers alias the original storage.

    The twin's tensors are new objects over the same memory: zennit's canonizers replace
    a tensor's `.data` (merging batch norm), which then changes the twin only.
    """
    memo = {}
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        alias = tensor.detach()
        if isinstance(tensor, nn.Parameter):
            alias = nn.Parameter(alias, tensor.requires_grad)
        memo[id(tensor)] = alias
    try:
        return copy.deepcopy(model, memo)
    except Exception as error:
        raise ModelError(f"LRP works on a copy of the model's layers, and {_name(model)} cannot be "
                         f"copied ({type(error).__name__}: {error}); choose another method") from error


def _check_layers(model: nn.Module) -> None:
    name = _name(model)
    if any(isinstance(module, torch.jit.ScriptModule) for module in model.modules()):
        raise ModelError(f"LRP needs the network's layers as Python modules to put its rules on, and "
                         f"{name} is TorchScript (one compiled graph); choose another method, or load "
                         "its state dict into its architecture with wrap_model")
    if not any(isinstance(module, LinearLayer) for module in model.modules()):
        raise ModelError(f"LRP puts its rules on nn.Conv*/nn.Linear layers and {name} has none (its "
                         "layers are functional calls, or a kind zennit does not know); choose "
                         "another method")


def _name(model: nn.Module) -> str:
    return getattr(model, "name", None) or type(model).__name__


@contextlib.contextmanager
def relevance_rules(model: nn.Module, composite: Callable[[nn.Module, torch.Tensor], Composite],
                    like: torch.Tensor) -> Iterator[nn.Module]:
    """A twin of `model` that back-propagates relevance by `composite(model, like)`'s rules.

    Every hook and canonizer lives on the twin and is removed when the block ends, also
    on error, so that the graph left behind differentiates as an ordinary one.
    """
    _check_layers(model)
    copied = twin(model)
    with composite(model, like).context(copied):
        yield copied


def lrp(model, x, target, create_graph: bool,
        composite: Callable[[nn.Module, torch.Tensor], Composite]) -> Explanation:
    """The relevance of each pixel (N,3,H,W) for the target logit, with the logits at x."""
    x = requiring_grad(x)
    with relevance_rules(model, composite, x) as rules:
        logits = rules(x)
        target = pick_target(logits, target)
        score = logits.gather(1, target.reshape(-1, 1))
        # Seeding the backward pass with the logit itself (in the graph when the attack
        # differentiates) keeps the top layer's rule, which divides by that logit, in
        # the graph too: zennit builds a rule's graph only where its incoming relevance has one.
        (grad,) = torch.autograd.grad(score, x, grad_outputs=score if create_graph else score.detach(),
                                      create_graph=create_graph)
    low, high = _pixel_bounds(model, x)
    return Explanation(grad / (high - low), logits)


class MergeBatchNorm(SequentialMergeBatchNorm):
    """zennit's merge of a batch norm into the layer before it, with the emptied batch
    norm an exact identity (zennit leaves its eps, so it computes x / sqrt(1 + eps)).

    A batch norm without running statistics or without affine parameters stays as it is
    (it passes relevance on unchanged, zennit's rule for batch norm).
    """

    def apply(self, root_module):
        instances = []
        leaves = list(collect_leaves(root_module))
        for linear, batch_norm in zip(leaves, leaves[1:]):
            if (isinstance(linear, self.linear_type) and isinstance(batch_norm, self.batch_norm_type)
                    and batch_norm.running_var is not None and batch_norm.weight is not None):
                instance = self.copy()
                instance.register((linear,), batch_norm)
                instances.append(instance)
        return instances

    def register(self, linears, batch_norm):
        super().register(linears, batch_norm)
        self.eps, batch_norm.eps = batch_norm.eps, 0.0

    def remove(self):
        super().remove()
        self.batch_norm.eps = self.eps


def _canonizers():
    # Batch norm merged into the convolution before it (any network), and the residual
    # additions of torchvision ResNets as Sum modules, so relevance splits between branches
    # (zennit's ResNetCanonizer, with the exact merge).
    return [CompositeCanonizer((MergeBatchNorm(), ResNetBottleneckCanonizer(), ResNetBasicBlockCanonizer()))]


def epsilon_plus_flat(model, like):
    return EpsilonPlusFlat(canonizers=_canonizers())


def alpha2_beta1(model, like):
    return EpsilonAlpha2Beta1(canonizers=_canonizers())


def epsilon_gamma_box(model, like):
    low, high = _pixel_bounds(model, like)
    return EpsilonGammaBox(low=low, high=high, canonizers=_canonizers())


def _register(name: str, composite, title: str, description: str):
    @register(name, title=title, description=description)
    def method(model, x, target=None, *, create_graph: bool = False) -> Explanation:
        return lrp(model, x, target, create_graph, composite)
    method.__name__ = name.replace("-", "_")
    return method


lrp_epsilon_plus_flat = _register(
    "lrp-epsilon-plus-flat", epsilon_plus_flat, "LRP (ε, z+, flat)",
    "Layer-wise relevance propagation: the class score is handed back layer by layer to the "
    "pixels, each layer sharing it among its inputs by their positive contributions (z+ rule "
    "in convolutions, ε rule in dense layers, the flat rule spreading it evenly over the first "
    f"layer's receptive fields) ({BASE}).")
lrp_alpha_beta = _register(
    "lrp-alpha-beta", alpha2_beta1, "LRP (α=2, β=1)",
    "Layer-wise relevance propagation with the α2β1 rule in every convolution: positive "
    "contributions get twice the relevance and negative ones take one share away, so maps "
    "show evidence against the class too; ε rule in dense layers "
    f"({BASE}).")
lrp_epsilon_gamma_box = _register(
    "lrp-epsilon-gamma-box", epsilon_gamma_box, "LRP (ε, γ, z^B)",
    "Layer-wise relevance propagation with the z^B rule at the first layer, which knows the "
    "pixels lie between black and white, the γ rule (favouring positive contributions) in "
    "the other convolutions and the ε rule in dense layers (Montavon et al., 2019; "
    f"{BASE}).")
