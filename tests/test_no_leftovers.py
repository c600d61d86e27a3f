"""Every method x every attack leaves the caller's model exactly as it was: no function
mode, no hook, same parameters, buffers and training flags, no .grad -- also when the
model raises midway and when the callback stops the attack."""

import pytest
import torch
from torch import nn

from fragility.attacks import attack, attacks
from fragility.explainers import get_method, methods

SMALL_OPTIONS = {"steps": 3, "samples": 3}   # keep costly methods (IG, SmoothGrad) cheap
HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
              "_forward_hooks_with_kwargs", "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called")


def make_model():
    """A float64 CNN in training mode (one block left in eval), with BatchNorm and Dropout."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Dropout(0.5),
        nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(8 * 16, 5),
    ).double()
    net.train()
    net[3].eval()
    return net


class Calls:
    """A call count shared by a model and its copies (LRP runs a copy of the model)."""

    def __init__(self):
        self.count = 0

    def __deepcopy__(self, memo):
        return self


class Exploding(nn.Module):
    """Raises on its n-th forward call, like a model that fails in the middle of an attack."""

    def __init__(self, net, after):
        super().__init__()
        self.net, self.after, self.calls = net, after, Calls()

    def forward(self, x):
        self.calls.count += 1
        if self.calls.count > self.after:
            raise RuntimeError("model failed midway")
        return self.net(x)


def snapshot(model):
    return ({name: value.clone() for name, value in model.state_dict().items()},
            [module.training for module in model.modules()])


def assert_untouched(model, before):
    state, flags = before
    assert torch._C._len_torch_function_stack() == 0
    for name, value in model.state_dict().items():
        assert torch.equal(value, state[name]), name
    assert [module.training for module in model.modules()] == flags
    for module in model.modules():
        for hooks in HOOK_DICTS:
            assert not getattr(module, hooks, {}), (type(module).__name__, hooks)
    assert all(parameter.grad is None for parameter in model.parameters())
    assert not nn.modules.module._global_forward_hooks
    assert not nn.modules.module._global_forward_pre_hooks
    assert not nn.modules.module._global_backward_hooks


def arguments(method, name):
    options = {key: value for key, value in SMALL_OPTIONS.items() if key in get_method(method).options}
    extra = {}
    if name == "targeted":
        extra["region"] = torch.zeros(16, 16, dtype=torch.bool)
        extra["region"][:8, :8] = True
    if name == "target-map":
        extra["target_map"] = torch.rand(16, 16, generator=torch.Generator().manual_seed(0))
    return {"method": method, "attack": name, "steps": 2, "k": 20, "method_options": options, **extra}


@pytest.mark.parametrize("name", attacks())
@pytest.mark.parametrize("method", methods())
def test_every_method_and_attack_leaves_nothing_behind(method, name, images):
    model = make_model()
    before = snapshot(model)
    original_images = images.clone()
    result = attack(model, images, **arguments(method, name))
    assert_untouched(model, before)
    assert torch.equal(images, original_images)
    assert result.perturbed.shape == images.shape
    assert torch.isfinite(result.perturbed_maps).all()


@pytest.mark.parametrize("method", methods())
def test_a_model_that_raises_midway_leaves_nothing_behind(method, images):
    net = make_model()
    before = snapshot(net)
    with pytest.raises(RuntimeError, match="model failed midway"):
        attack(Exploding(net, after=2), images, **arguments(method, "top-k"))
    assert_untouched(net, before)


def test_a_stopped_attack_leaves_nothing_behind(images):
    model = make_model()
    before = snapshot(model)
    result = attack(model, images, **{**arguments("gradient", "mass-center"), "steps": 5},
                    callback=lambda step, row: False if step == 2 else None)
    assert result.stopped_early and result.steps_run == 2
    assert_untouched(model, before)
