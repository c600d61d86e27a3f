"""Backward rules: a forward value with a backward pass of our choosing.

DeepLIFT and guided backpropagation keep the network's forward values but change how
gradients pass through each ReLU. `with_rule` gives a tensor whose forward value is
`value` and whose backward pass is `rule(grad, z, *saved)`. The rule is written with
ordinary torch operations, so with `create_graph=True` the attack can differentiate
through it (the saved tensors keep their own graph back to the input).
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class _Rule(torch.autograd.Function):
    @staticmethod
    def forward(ctx, rule, z, value, *saved):
        ctx.rule = rule
        ctx.save_for_backward(z, *saved)
        return value.clone()

    @staticmethod
    def backward(ctx, grad):
        z, *saved = ctx.saved_tensors
        return (None, ctx.rule(grad, z, *saved), None, *(None for _ in saved))


def with_rule(z: torch.Tensor, value: torch.Tensor,
              rule: Callable[..., torch.Tensor], *saved: torch.Tensor) -> torch.Tensor:
    """`value` in the forward pass; d/dz is `rule(grad, z, *saved)` in the backward pass."""
    return _Rule.apply(rule, z, value, *saved)
