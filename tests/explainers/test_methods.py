"""Checks every registered method must pass; a newly registered method is tested at once."""

import pytest
import torch
from torch import nn

import fragility as fg
from fragility.errors import ConfigError
from fragility.explainers import attribute, explain, get_method, methods, saliency_map
from fragility.models.model import as_model

ALL = methods()


def test_all_paper_methods_are_registered():
    assert set(ALL) >= {"gradient", "gradient-x-input", "integrated-gradients", "smoothgrad",
                        "deeplift", "gradcam", "guided-backprop"}


@pytest.mark.parametrize("name", ALL)
def test_registration_is_complete(name):
    spec = get_method(name)
    assert spec.title and len(spec.description) > 40
    assert "(" in spec.description and "20" in spec.description  # cites its reference
    assert isinstance(spec.surrogate_description(10.0), str)


@pytest.mark.parametrize("name", ALL)
def test_shapes_maps_and_logits(name, cnn, images):
    result = attribute(cnn, images, name)
    assert result.attributions.shape[0] == 3 and result.attributions.shape[2:] == (16, 16)
    assert result.attributions.shape[1] in (1, 3)
    torch.testing.assert_close(result.logits, cnn(images), rtol=1e-10, atol=1e-12)
    maps = explain(cnn, images, name)
    assert maps.shape == (3, 16, 16)
    assert bool((maps >= 0).all())
    torch.testing.assert_close(maps.sum(dim=(1, 2)), torch.ones(3, dtype=maps.dtype))
    assert maps.std() > 0  # a real map, not the uniform fallback


@pytest.mark.parametrize("name", ALL)
def test_target_selects_the_explained_class(name, cnn, images):
    predicted = cnn(images).argmax(1)
    default = attribute(cnn, images, name).attributions
    torch.testing.assert_close(attribute(cnn, images, name, target=predicted).attributions, default)
    other = (predicted + 1) % 5
    assert not torch.allclose(attribute(cnn, images, name, target=other).attributions, default)


@pytest.mark.parametrize("name", ALL)
def test_functional_relu_network(name, functional_cnn, images):
    result = attribute(functional_cnn, images, name)
    torch.testing.assert_close(result.logits, functional_cnn(images), rtol=1e-10, atol=1e-12)
    maps = explain(functional_cnn, images, name)
    assert torch.isfinite(maps).all() and maps.std() > 0


@pytest.mark.parametrize("name", ALL)
def test_create_graph_keeps_a_graph_to_the_input(name, cnn, images):
    spec = get_method(name)
    x = images.clone().requires_grad_(True)
    result = spec.fn(as_model(cnn), x, None, create_graph=True, **spec.options)
    assert result.attributions.requires_grad
    (grad,) = torch.autograd.grad(result.attributions.sum(), x, allow_unused=True)
    assert grad is not None


@pytest.mark.parametrize("name", ALL)
# On the random functional network the predicted class's Grad-CAM is negative at every
# pixel under softplus(10) (clamped to an all-zero, uniform map, which has no gradient),
# so that network is checked on class 0, whose CAM is not degenerate.
@pytest.mark.parametrize("network, target", [("cnn", None), ("functional_cnn", 0)])
def test_surrogate_gives_second_order_signal(name, network, target, images, request):
    model = as_model(request.getfixturevalue(network))
    spec = get_method(name)
    x = images.clone().requires_grad_(True)
    result = spec.differentiable(model, x, target, beta=10.0, **spec.options)
    weights = torch.rand(3, 16, 16, dtype=x.dtype, generator=torch.Generator().manual_seed(0))
    (grad,) = torch.autograd.grad((saliency_map(result.attributions) * weights).sum(), x)
    assert torch.isfinite(grad).all()
    assert grad.abs().sum() > 0
    # The surrogate still explains the network's own prediction.
    assert torch.equal(result.logits.argmax(1), model(images).argmax(1))


def _hooks(model):
    return [len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
            + len(m._backward_pre_hooks) for m in model.modules()]


def _assert_nothing_left(model):
    assert torch._C._len_torch_function_stack() == 0
    assert sum(_hooks(model)) == 0
    x = torch.tensor([-1.0, 2.0], dtype=torch.float64)
    assert torch.equal(torch.relu(x), torch.tensor([0.0, 2.0], dtype=torch.float64))


class Explodes(nn.Module):
    def forward(self, x):
        raise RuntimeError("boom")


@pytest.mark.parametrize("name", ALL)
def test_nothing_left_behind_and_model_unchanged(name, cnn, images):
    cnn.train()
    before = {k: v.clone() for k, v in cnn.state_dict().items()}
    spec = get_method(name)
    attribute(cnn, images, name)
    x = images.clone().requires_grad_(True)
    spec.differentiable(as_model(cnn), x, None, beta=10.0, **spec.options)
    _assert_nothing_left(cnn)
    assert all(m.training for m in cnn.modules())
    assert all(p.grad is None and p.requires_grad for p in cnn.parameters())
    for key, value in cnn.state_dict().items():
        assert torch.equal(value, before[key])


@pytest.mark.parametrize("name", ALL)
def test_nothing_left_behind_when_the_model_raises(name, images):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(),
                        Explodes()).double()
    spec = get_method(name)
    with pytest.raises(RuntimeError, match="boom"):
        attribute(net, images, name)
    _assert_nothing_left(net)
    with pytest.raises(RuntimeError, match="boom"):
        spec.differentiable(as_model(net), images.clone().requires_grad_(True), None, beta=10.0,
                            **spec.options)
    _assert_nothing_left(net)
    assert all(m.training for m in net.modules())


def test_unknown_method_lists_the_valid_names(cnn, images):
    with pytest.raises(ConfigError, match="unknown method 'saliency'") as error:
        fg.explain(cnn, images, "saliency")
    for name in ALL:
        assert name in str(error.value)


def test_unknown_option_names_the_valid_options(cnn, images):
    with pytest.raises(ConfigError, match="no parameter stepz; its parameters: baseline, batch_size, steps"):
        fg.explain(cnn, images, "integrated-gradients", stepz=10)
    with pytest.raises(ConfigError, match="method 'gradient' has no parameter steps; its parameters: none"):
        fg.explain(cnn, images, "gradient", steps=10)


@pytest.mark.parametrize("method, options, message", [
    ("integrated-gradients", {"steps": 0}, "steps must be >= 1, got 0"),
    ("integrated-gradients", {"steps": 2.5}, "steps must be a whole number"),
    ("integrated-gradients", {"batch_size": 0}, "batch_size must be >= 1"),
    ("integrated-gradients", {"baseline": "white"}, "unknown baseline 'white'; choose one of: dataset-mean, black, mean, blur"),
    ("deeplift", {"baseline": "noise"}, "unknown baseline 'noise'; choose one of: dataset-mean, black, mean, blur"),
    ("smoothgrad", {"sigma": -0.1}, "sigma must be >= 0"),
    ("smoothgrad", {"sigma": float("nan")}, "sigma must be a finite number"),
    ("smoothgrad", {"samples": 0}, "samples must be >= 1"),
    ("smoothgrad", {"seed": -1}, "seed must be >= 0"),
    ("gradcam", {"layer": "nope"}, r"unknown layer 'nope'; choose one of: 0, 2"),
    ("gradcam", {"layer": 3}, "layer must be text, got 3"),
])
def test_bad_option_values(method, options, message, cnn, images):
    with pytest.raises(ConfigError, match=message):
        fg.explain(cnn, images, method, **options)
