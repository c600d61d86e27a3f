"""fragility: how fragile are neural-network interpretations?

The public API (see README): load_model, wrap_model, load_image, samples, explain,
attack, metrics, methods(), attacks(), models(), FragilityError.
"""

from . import metrics
from .attacks import AttackResult, attack, attacks, get_attack
from .errors import ConfigError, FragilityError, InputError, ModelError
from .explainers import attribute, explain, get_method, methods
from .images import load_image
from .interrupt import Interrupted, interruptible
from .labels import load_labels
from .models import Model, ModelFile, load_model, models, predict, wrap_model
from .samples import Sample, get_sample, samples
from .sanity import (SanityResult, cascading_randomization, independent_randomization,
                     parameterised_layers)

__all__ = [
    "AttackResult", "ConfigError", "FragilityError", "InputError", "Interrupted", "Model",
    "ModelError", "ModelFile", "Sample", "SanityResult", "attack", "attacks", "attribute",
    "cascading_randomization", "explain", "get_attack", "get_method", "get_sample",
    "independent_randomization", "interruptible", "load_image", "load_labels", "load_model",
    "methods", "metrics", "models", "parameterised_layers", "predict", "samples", "wrap_model",
]
