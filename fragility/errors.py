"""Errors the fragility API raises on purpose.

Every error carries a message a user can act on: it names the bad value and, where
there is a closed set, the valid ones.
"""


class FragilityError(Exception):
    """Base class of every error fragility raises on purpose."""


class InputError(FragilityError, ValueError):
    """An image or tensor given to the API is unusable (broken file, NaN, wrong shape)."""


class ConfigError(FragilityError, ValueError):
    """A parameter is out of range or names something unknown (eps < 0, a method name)."""


class ModelError(FragilityError):
    """A model cannot be loaded or used (offline weights, bad checkpoint, wrong outputs)."""


def unknown_name(kind: str, name: object, valid: list[str]) -> ConfigError:
    """The error for a name that is not in a registry, listing the valid ones."""
    return ConfigError(f"unknown {kind} {name!r}; choose one of: {', '.join(valid)}")
