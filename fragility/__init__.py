"""fragility: how fragile are neural-network interpretations?

The public API (see README): load_model, wrap_model, load_image, samples, explain,
attack, metrics, methods(), attacks(), models(), FragilityError.
"""

import importlib

from .errors import ConfigError, FragilityError, InputError, ModelError
from .explainers import attribute, explain, get_method, methods
from .models.model import Model, wrap_model

# Names resolved on first use from the module that defines them.
_LAZY = {
    "load_model": "fragility.models", "models": "fragility.models",
    "load_image": "fragility.images",
    "samples": "fragility.samples", "Sample": "fragility.samples",
    "attack": "fragility.attacks", "attacks": "fragility.attacks",
    "get_attack": "fragility.attacks", "AttackResult": "fragility.attacks",
    "metrics": None,
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'fragility' has no attribute {name!r}")
    if _LAZY[name] is None:
        return importlib.import_module(f"fragility.{name}")
    return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = ["ConfigError", "FragilityError", "InputError", "Model", "ModelError", "attribute",
           "explain", "get_method", "methods", "wrap_model", *_LAZY]
