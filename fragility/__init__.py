"""fragility: how fragile are neural-network interpretations?

The public API (see README): load_model, wrap_model, load_image, explain, attack,
metrics, methods(), attacks(), models(), FragilityError.
"""

from .errors import ConfigError, FragilityError, InputError, ModelError
from .explainers import explain, methods
from .models.model import Model, wrap_model

__all__ = ["ConfigError", "FragilityError", "InputError", "Model", "ModelError", "explain",
           "methods", "wrap_model"]
