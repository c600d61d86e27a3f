"""One generic registry of named things, and the parameters methods and attacks declare.

Each explanation method and attack declares its parameters once, as a tuple of
`Parameter`s. Validation, the command line's flags, the dashboard's widgets, the export
snippet and the README's tables are all generated from those declarations, so a new
method or attack with a new input is its own module plus one registration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import ConfigError, unknown_name

T = TypeVar("T")

# What a parameter holds. Scalars are validated here; "mask" (a bool region, (H,W) or
# (N,H,W)) and "map" (a non-negative map) are tensors that the attack converts itself,
# and that the command line and the dashboard ask for in their own way.
KINDS = ("int", "float", "bool", "choice", "text", "mask", "map")


@dataclass(frozen=True)
class Parameter:
    """One declared input of a method or attack.

    scale: the command line and the dashboard show and take the value times `scale` (255
    for pixel amounts: epsilon 8/255 is typed as 8). dynamic_default(height, width) gives
    the default when `default` is None and the image size decides it (k: 2% of pixels).
    """

    name: str
    default: object
    help: str
    kind: str = "float"
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    choices: tuple = ()
    optional: bool = False          # None is a valid value (see help for its meaning)
    scale: float = 1.0
    unit: str = ""                  # shown after scaled values, e.g. "/255"
    dynamic_default: Callable[[int, int], object] | None = None
    widget_high: float | None = None   # the dashboard's upper bound (scaled), if tighter
    advanced: bool = False          # the dashboard puts it in the "more settings" fold
    default_text: str = ""          # how to read a default that depends on the image

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"parameter kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "choice" and self.default not in self.choices:
            raise ValueError(f"default {self.default!r} of {self.name!r} is not among {self.choices}")

    @property
    def flag(self) -> str:
        """The command-line flag: --step-size for step_size."""
        return "--" + self.name.replace("_", "-")

    @property
    def title(self) -> str:
        """A label for widgets and tables: "Step size"."""
        return self.name.replace("_", " ").capitalize()

    def default_for(self, height: int | None = None, width: int | None = None):
        """The default, resolved for an image of height x width where it depends on it."""
        if self.default is None and self.dynamic_default is not None and height and width:
            return self.dynamic_default(height, width)
        return self.default

    def check(self, value, label: str | None = None, scale: float = 1.0):
        """`value` validated (and converted: "3" is not an int, 3.0 is), else ConfigError.

        label names the value in messages (a CLI flag, say) and scale the units it was
        given in: check(300, "--epsilon", 255) says "--epsilon must be <= 255".
        """
        label = label or self.name
        if value is None:
            if self.optional or self.kind in ("mask", "map"):
                return None
            raise ConfigError(f"{label} needs a value")
        if self.kind in ("mask", "map"):
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"{label} must be True or False, got {value!r}")
            return value
        if self.kind in ("choice", "text"):
            if self.kind == "choice" and value not in self.choices:
                raise unknown_name(label, value, [str(c) for c in self.choices])
            if not isinstance(value, str):
                raise ConfigError(f"{label} must be text, got {value!r}")
            return value
        return self._check_number(value, label, scale)

    def _check_number(self, value, label: str, scale: float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{label} must be a finite number, got {value!r}")
        if self.kind == "int" and int(value) != value:
            raise ConfigError(f"{label} must be a whole number, got {value!r}")
        low = None if self.low is None else self.low * scale
        high = None if self.high is None else self.high * scale
        if low is not None and (value < low or (not self.low_inclusive and value == low)):
            raise ConfigError(f"{label} must be {'>=' if self.low_inclusive else '>'} {low:g}, got {value!r}")
        if high is not None and value > high:
            raise ConfigError(f"{label} must be <= {high:g}, got {value!r}")
        value = value / scale if scale != 1 else value
        return int(value) if self.kind == "int" else float(value)

    def describe_default(self) -> str:
        """The default as a person reads it (scaled, with its unit)."""
        if self.default_text:
            return self.default_text
        if self.default is None:
            return "none"
        if self.kind == "float" and self.scale != 1:
            return f"{self.default * self.scale:g}{self.unit}"
        return str(self.default)


def check_parameters(declared: tuple[Parameter, ...], given: dict, owner: str,
                     height: int | None = None, width: int | None = None) -> dict:
    """Every declared parameter's value (given or default), validated; unknown names raise.

    None for a parameter whose default depends on the image (k) means that default, so a
    preset can say "2% of the pixels" without knowing the image."""
    names = {parameter.name for parameter in declared}
    unknown = sorted(set(given) - names)
    if unknown:
        raise ConfigError(f"{owner} has no parameter {', '.join(unknown)}; its parameters: "
                          f"{', '.join(sorted(names)) or 'none'}")
    values = {}
    for parameter in declared:
        value = given.get(parameter.name)
        if value is None and (parameter.name not in given or parameter.dynamic_default is not None):
            value = parameter.default_for(height, width)   # None asks for a size-dependent default
        values[parameter.name] = parameter.check(value)
    return values


class Registry(Generic[T]):
    """Named entries in registration order (menu order); a duplicate name raises."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        """The entry `name`, or a ConfigError listing the valid names."""
        if not isinstance(name, str) or name not in self._entries:
            raise unknown_name(self.kind, name, self.names())
        return self._entries[name]

    def find(self, name: str) -> T | None:
        return self._entries.get(name) if isinstance(name, str) else None

    def names(self) -> list[str]:
        return list(self._entries)

    def __iter__(self) -> Iterator[T]:
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries
