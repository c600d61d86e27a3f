"""Named explanation methods: the single source for menus, the CLI and tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import unknown_name
from ..smooth import describe, softplus_relu
from ._core import Explanation


def one_point(options: dict) -> int:
    return 1


@dataclass(frozen=True)
class Method:
    name: str
    fn: Callable[..., Explanation]        # fn(model, x, target=None, *, create_graph=False, **options)
    title: str                            # shown in menus
    description: str                      # one short paragraph for teaching, with its reference
    options: dict = field(default_factory=dict)   # option name -> default
    # How the attack differentiates this method; surrogate(model, x, target, beta, **options).
    surrogate: Callable[..., Explanation] | None = None
    surrogate_description: Callable[[float], str] = describe
    # Images the method runs through the network per input image (IG: its steps), which sets
    # how many input images the attack can push through one pass; see attacks/setting.py.
    points: Callable[[dict], int] = one_point
    # False when an image's map depends on the rest of its batch (e.g. noise drawn for the
    # whole batch at once): the attack then never splits the batch.
    groupable: bool = True

    def differentiable(self, model, x, target, beta: float, **options) -> Explanation:
        """The explanation of the smooth surrogate, with a graph back to `x`."""
        if self.surrogate is not None:
            return self.surrogate(model, x, target, beta=beta, **options)
        with softplus_relu(beta):
            return self.fn(model, x, target, create_graph=True, **options)


_METHODS: dict[str, Method] = {}


def register(name: str, *, title: str, description: str, options: dict | None = None,
             surrogate: Callable[..., Explanation] | None = None,
             surrogate_description: Callable[[float], str] = describe,
             points: Callable[[dict], int] = one_point, groupable: bool = True):
    """Decorator: register `fn` as the explanation method `name`.

    points(options): images run through the network per input image (default 1).
    """
    def decorate(fn):
        _METHODS[name] = Method(name, fn, title, description, dict(options or {}),
                                surrogate, surrogate_description, points, groupable)
        return fn
    return decorate


def get_method(name: str) -> Method:
    if name not in _METHODS:
        raise unknown_name("method", name, methods())
    return _METHODS[name]


def methods() -> list[str]:
    """Names of the registered explanation methods, in menu order."""
    return list(_METHODS)
