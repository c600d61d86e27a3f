"""Tensors in run records (configs, results) as plain JSON values."""

import torch


def jsonable(value):
    """`value` with every tensor, nested in dicts, lists or tuples, turned into lists."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value
