"""fragility: how fragile are neural-network interpretations?

The public API (see README): load_model, wrap_model, load_image, samples, explain,
attack, metrics, methods(), attacks(), models(), FragilityError.
"""

from . import manipulation, metrics
from .attacks import AttackResult, attack, attacks, get_attack
from .errors import ConfigError, FragilityError, InputError, ModelError
from .explainers import attribute, explain, get_method, methods
from .images import load_image
from .manipulation import ManipulationResult, manipulate
from .models import Model, checkpoint_info, load_model, models, predict, wrap_model
from .samples import Sample, get_sample, samples
from .sanity import (DataRandomizationResult, SanityResult, cascading_randomization,
                     data_randomization, independent_randomization, parameterised_layers)

__all__ = [
    "AttackResult", "ConfigError", "DataRandomizationResult", "FragilityError", "InputError",
    "ManipulationResult", "Model", "ModelError", "Sample", "SanityResult", "attack", "attacks",
    "attribute", "cascading_randomization", "checkpoint_info", "data_randomization", "explain",
    "get_attack", "get_method", "get_sample", "independent_randomization", "load_image",
    "load_model", "manipulate", "manipulation", "methods", "metrics", "models",
    "parameterised_layers", "predict", "samples", "wrap_model",
]
