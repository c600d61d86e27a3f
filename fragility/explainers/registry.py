"""Named explanation methods: the single source for menus, the CLI and tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..registry import Parameter, Registry, check_parameters
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
    parameters: tuple[Parameter, ...] = ()
    # How the attack differentiates this method:
    # surrogate(model, x, target, beta, create_graph, **options).
    surrogate: Callable[..., Explanation] | None = None
    surrogate_description: Callable[[float], str] = describe
    # Images the method runs through the network per input image (IG: its steps), which sets
    # how many input images the attack can push through one pass; see attacks/setting.py.
    points: Callable[[dict], int] = one_point
    # False when an image's map depends on the rest of its batch (e.g. noise drawn for the
    # whole batch at once): the attack then never splits the batch.
    groupable: bool = True
    # The options that seed the method's randomness (SmoothGrad's noise); none for a
    # deterministic method. Attacks score a stochastic method with noise independent of the
    # noise they optimised against (see `scoring_options`).
    seed_options: tuple[str, ...] = ()
    # step_options(options, step): the options attack step `step` differentiates with, where
    # they change per step (the SmoothGrad defence's fresh_noise: a new noise seed each step).
    step_options: Callable[[dict, int], dict] | None = None

    @property
    def options(self) -> dict:
        """Each parameter's default, by name."""
        return {parameter.name: parameter.default for parameter in self.parameters}

    @property
    def stochastic(self) -> bool:
        return bool(self.seed_options)

    def scoring_options(self, options: dict) -> dict:
        """`options` with every seed replaced by one drawn from another stream, for scoring."""
        return {**options, **{name: scoring_seed(options[name]) for name in self.seed_options}}

    def options_at(self, options: dict, step: int) -> dict:
        """The options of attack step `step` (the same every step unless the method says)."""
        return options if self.step_options is None else self.step_options(options, step)

    def check(self, options: dict) -> dict:
        """Every option (given or default), validated; unknown option names are an error."""
        return check_parameters(self.parameters, dict(options), f"method {self.name!r}")

    def differentiable(self, model, x, target, beta: float, create_graph: bool = True,
                       **options) -> Explanation:
        """The explanation of the smooth surrogate, with a graph back to `x`."""
        if self.surrogate is not None:
            return self.surrogate(model, x, target, beta=beta, create_graph=create_graph, **options)
        with softplus_relu(beta):
            return self.fn(model, x, target, create_graph=create_graph, **options)


METHODS: Registry[Method] = Registry("method")


def register(name: str, *, title: str, description: str, parameters: tuple[Parameter, ...] = (),
             surrogate: Callable[..., Explanation] | None = None,
             surrogate_description: Callable[[float], str] = describe,
             points: Callable[[dict], int] = one_point, groupable: bool = True,
             seed_options: tuple[str, ...] = ()):
    """Decorator: register `fn` as the explanation method `name`.

    points(options): images run through the network per input image (default 1).
    """
    def decorate(fn):
        METHODS.add(name, Method(name, fn, title, description, tuple(parameters), surrogate,
                                 surrogate_description, points, groupable, tuple(seed_options)))
        return fn
    return decorate


def scoring_seed(seed: int) -> int:
    """A seed for scoring noise, from a stream no user seed shares (a fixed odd multiplier
    mod 2^63 maps seeds one-to-one, far from the small seeds people type)."""
    return (seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**63


def step_seed(seed: int, step: int) -> int:
    """The noise seed of attack step `step` under fresh noise (step 0: the seed itself)."""
    return (seed + step * 0xBF58476D1CE4E5B9) % 2**63


def get_method(name: str) -> Method:
    return METHODS.get(name)


def methods() -> list[str]:
    """Names of the registered explanation methods, in menu order."""
    return METHODS.names()
