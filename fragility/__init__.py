"""fragility: how fragile are neural-network interpretations?

The public API (see README): load_model, wrap_model, load_image, samples, explain,
attack, sweep (experiments at dataset scale), metrics, methods(), attacks(), models(),
FragilityError.
"""

from . import experiments, metrics
from .attacks import AttackResult, attack, attacks, get_attack
from .errors import ConfigError, FragilityError, InputError, ModelError
from .experiments import sweep
from .explainers import attribute, explain, get_method, methods
from .images import load_image
from .models import Model, load_model, models, predict, wrap_model
from .samples import Sample, get_sample, samples
from .sanity import (SanityResult, cascading_randomization, independent_randomization,
                     parameterised_layers)

__all__ = [
    "AttackResult", "ConfigError", "FragilityError", "InputError", "Model", "ModelError", "Sample",
    "SanityResult", "attack", "attacks", "attribute", "cascading_randomization", "experiments", "explain",
    "get_attack", "get_method", "get_sample", "independent_randomization", "load_image",
    "load_model", "methods", "metrics", "models", "parameterised_layers", "predict", "samples",
    "sweep", "wrap_model",
]
