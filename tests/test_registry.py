"""Parameters are declared once; the registries refuse duplicates."""

import pytest

import fragility as fg
from fragility.errors import ConfigError
from fragility.registry import Parameter, Registry, check_parameters


def test_a_duplicate_name_raises():
    registry = Registry("widget")
    registry.add("a", 1)
    with pytest.raises(ValueError, match="widget 'a' is registered twice"):
        registry.add("a", 2)
    with pytest.raises(ConfigError, match="unknown widget 'b'; choose one of: a"):
        registry.get("b")
    assert registry.names() == ["a"] and list(registry) == [1] and "a" in registry


EPSILON = Parameter("epsilon", 8 / 255, "radius", low=0.0, high=1.0, scale=255, unit="/255")


def test_scaled_values_are_checked_and_converted_in_their_own_units():
    assert EPSILON.check(8, "--epsilon", 255) == pytest.approx(8 / 255)
    with pytest.raises(ConfigError, match="--epsilon must be <= 255, got 300"):
        EPSILON.check(300, "--epsilon", 255)
    with pytest.raises(ConfigError, match="epsilon must be <= 1, got 2"):
        EPSILON.check(2)
    assert EPSILON.describe_default() == "8/255" and EPSILON.flag == "--epsilon"


@pytest.mark.parametrize("value, message", [
    (2.5, "must be a whole number"), ("3", "must be a finite number"), (True, "must be a finite number"),
    (float("inf"), "must be a finite number"), (0, "must be >= 1"), (None, "needs a value"),
])
def test_integer_parameter_refuses(value, message):
    with pytest.raises(ConfigError, match=f"steps {message}"):
        Parameter("steps", 3, "how many", kind="int", low=1).check(value)


def test_choices_and_unknown_names():
    draws = Parameter("draws", "a", "which", kind="choice", choices=("a", "b"))
    assert draws.check("b") == "b"
    with pytest.raises(ConfigError, match="unknown draws 'c'; choose one of: a, b"):
        draws.check("c")
    with pytest.raises(ConfigError, match="thing 'x' has no parameter nope; its parameters: draws"):
        check_parameters((draws,), {"nope": 1}, "thing 'x'")
    with pytest.raises(ValueError, match="not among"):
        Parameter("bad", "z", "help", kind="choice", choices=("a",))


def _declared():
    for name in fg.methods():
        yield f"method {name}", fg.get_method(name).parameters
    for name in fg.attacks():
        yield f"attack {name}", fg.get_attack(name).parameters
    for name in fg.defences():
        yield f"defence {name}", fg.get_defence(name).parameters


@pytest.mark.parametrize("owner, parameters", list(_declared()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_declaration_has_help_and_a_valid_default(owner, parameters):
    for parameter in parameters:
        assert isinstance(parameter, fg.Parameter)
        assert parameter.name.isidentifier() and len(parameter.help) > 10, (owner, parameter.name)
        default = parameter.default_for(64, 64)
        assert parameter.check(default) == default or parameter.kind in ("mask", "map")


def test_k_defaults_to_two_percent_of_the_pixels(cnn, images):
    result = fg.attack(cnn, images, steps=1)
    assert result.config["k"] == round(0.02 * 16 * 16) == 5
    assert fg.get_attack("top-k").parameter("k").default_for(227, 227) == 1031   # the paper: 1000


def test_the_paper_preset():
    arguments = fg.PAPER.arguments("integrated-gradients")
    assert arguments["steps"] == 300 and arguments["epsilon"] == 8 / 255
    assert arguments["step_size"] == 0.5 / 255 and arguments["k"] is None
    assert arguments["method_options"] == {"steps": 100}
    assert fg.PAPER.arguments("gradient")["method_options"] == {}
    assert fg.PRESETS["paper"] is fg.PAPER


def test_the_paper_preset_runs_through_the_api_with_k_two_percent_of_the_pixels(cnn, images):
    arguments = {**fg.PAPER.arguments("integrated-gradients"), "steps": 1,
                 "method_options": {"steps": 4}}
    result = fg.attack(cnn, images[:1], method="integrated-gradients", **arguments)
    assert result.config["k"] == round(0.02 * 16 * 16)
    assert result.config["step_size"] == pytest.approx(0.5 / 255)


def test_k_none_means_the_image_dependent_default(cnn, images):
    assert fg.attack(cnn, images[:1], steps=1, k=None).config["k"] == 5


def test_the_readme_tables_are_the_generated_ones():
    from pathlib import Path

    from fragility import tables

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert tables.readme_block() in readme, "run `python -m fragility.tables` to update README.md"
