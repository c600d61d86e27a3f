"""Helpers shared by the captum reference tests."""

import warnings

import torch

from fragility.explainers import get_method
from fragility.models.model import as_model


def ours(name, net, x, target=None, **options):
    """Our method's raw attributions (and logits) on `net`."""
    return get_method(name).fn(as_model(net), x, target, **options)


def captum(attribution, x, **kwargs):
    """captum's result on a fresh copy of `x`, its own warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return attribution.attribute(x.clone(), **kwargs).detach()


def close(actual, expected, rtol=1e-8):
    expected = expected.detach()
    assert expected.abs().max() > 0
    torch.testing.assert_close(actual.detach(), expected, rtol=rtol, atol=rtol * float(expected.abs().max()))
