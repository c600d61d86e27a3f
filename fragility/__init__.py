"""fragility: how fragile are neural-network interpretations?

The public API (see README): load_model, wrap_model, load_image, samples, explain,
attack, sweep (experiments at dataset scale), metrics, methods(), attacks(), models(),
defences(), plot (a result's charts), Parameter, PAPER, FragilityError.
"""

from . import experiments, manipulation, metrics
from .attacks import AttackResult, attack, attacks, get_attack
from .defences import defences, get_defence
from .errors import ConfigError, FragilityError, InputError, ModelError
from .experiments import sweep
from .explainers import attribute, explain, get_method, methods
from .images import load_image
from .interrupt import Interrupted, interruptible
from .labels import load_labels
from .manipulation import ManipulationResult, manipulate
from .models import Model, ModelFile, checkpoint_info, load_model, models, predict, wrap_model
from .presets import PAPER, PRESETS, Preset
from .registry import Parameter
from .samples import Sample, get_sample, samples
from .sanity import (DataRandomizationResult, SanityResult, cascading_randomization,
                     data_randomization, independent_randomization, parameterised_layers)
from .data import training_set
from .display import plot
from .report_html import picture, report
from .influence import InfluenceResult, damping_sensitivity, influence_attack, influence_scores

__all__ = [
    "PAPER", "PRESETS", "AttackResult", "ConfigError", "FragilityError", "InputError", "Model",
    "ModelError", "Parameter", "Preset", "Sample", "SanityResult", "attack", "attacks", "attribute",
    "cascading_randomization", "defences", "experiments", "explain", "get_attack", "get_defence", "get_method",
    "get_sample", "independent_randomization", "interruptible", "Interrupted", "load_image",
    "load_labels", "ModelFile", "load_model", "methods", "metrics",
    "models", "parameterised_layers", "predict", "samples", "sweep", "wrap_model",
    "InfluenceResult", "damping_sensitivity", "influence_attack", "influence_scores", "training_set",
    "DataRandomizationResult", "ManipulationResult", "checkpoint_info", "data_randomization",
    "manipulate", "manipulation", "plot", "picture", "report",
]
