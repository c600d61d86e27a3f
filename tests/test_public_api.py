"""The public API of DESIGN.md: every name is there and is what it says it is."""

import importlib
import inspect

import fragility as fg


def test_functions_are_not_shadowed_by_submodules():
    # Importing a submodule of the same name must not replace the function.
    for module in ("fragility.models.zoo", "fragility.samples", "fragility.attacks.api"):
        importlib.import_module(module)
    for name in ("load_model", "models", "samples", "load_image", "explain", "attack",
                 "methods", "attacks", "wrap_model"):
        assert inspect.isfunction(getattr(fg, name)), name
    assert inspect.ismodule(fg.metrics)


def test_registries_name_the_menus():
    assert fg.models()[0] == "bundled"
    assert {"gradient", "integrated-gradients", "deeplift", "smoothgrad", "gradcam",
            "gradient-x-input", "guided-backprop"} <= set(fg.methods())
    assert {"random-sign", "top-k", "mass-center", "targeted", "target-map", "pgd"} <= set(fg.attacks())


def test_everything_public_is_exported():
    assert all(hasattr(fg, name) for name in fg.__all__)
    assert issubclass(fg.InputError, fg.FragilityError)
