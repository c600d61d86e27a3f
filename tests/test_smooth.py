import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fragility.explainers._core import input_gradient, saliency_map
from fragility.smooth import describe, softplus_relu
from nets import make_cnn

X = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], dtype=torch.float64)
SOFTPLUS = F.softplus(X, beta=10.0)

RELU_FORMS = {
    "F.relu": lambda x: F.relu(x),
    "torch.relu": lambda x: torch.relu(x),
    "Tensor.relu": lambda x: x.relu(),
    "F.relu(inplace=True)": lambda x: F.relu(x.clone(), inplace=True),
    "torch.relu_": lambda x: torch.relu_(x.clone()),
    "Tensor.relu_": lambda x: x.clone().relu_(),
    "nn.ReLU()": lambda x: nn.ReLU()(x),
    "nn.ReLU(inplace=True)": lambda x: nn.ReLU(inplace=True)(x.clone()),
}


@pytest.mark.parametrize("form", RELU_FORMS)
def test_every_relu_form_is_replaced_inside_and_restored_after(form):
    relu = RELU_FORMS[form]
    with softplus_relu(10.0):
        torch.testing.assert_close(relu(X), SOFTPLUS)
    assert torch.equal(relu(X), X.clamp_min(0))
    assert torch._C._len_torch_function_stack() == 0


def test_in_place_forms_stay_in_place():
    x = X.clone()
    with softplus_relu(10.0):
        result = x.relu_()
    assert result is x
    torch.testing.assert_close(x, SOFTPLUS)


def test_restored_after_an_error():
    with pytest.raises(RuntimeError, match="inside"):
        with softplus_relu(10.0):
            raise RuntimeError("inside")
    assert torch._C._len_torch_function_stack() == 0
    assert torch.equal(torch.relu(X), X.clamp_min(0))


def _second_order(net, images, weights):
    x = images.clone().requires_grad_(True)
    grad = input_gradient(net, x, target=0, create_graph=True).attributions
    objective = (grad.abs().sum(dim=1) * weights).sum()  # the attack's kind of objective
    (second,) = torch.autograd.grad(objective, x, allow_unused=True)
    return torch.zeros_like(x) if second is None else second


def test_plain_relu_gives_zero_second_order_signal_and_softplus_fixes_it(images):
    net = make_cnn()
    weights = torch.rand(3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(_second_order(net, images, weights), torch.zeros_like(images))
    with softplus_relu(10.0):
        second = _second_order(net, images, weights)
    assert torch.isfinite(second).all() and second.abs().sum() > 0


def test_large_beta_approaches_the_relu_network(images):
    net = make_cnn()
    real_logits = net(images).detach()
    real_map = saliency_map(input_gradient(net, images, target=0).attributions)
    logit_errors, map_errors = [], []
    for beta in (1.0, 10.0, 100.0, 1e4, 1e6):
        with softplus_relu(beta):
            logits = net(images).detach()
            smooth = input_gradient(net, images, target=0).attributions.detach()
        logit_errors.append(float((logits - real_logits).abs().max()))
        map_errors.append(float((saliency_map(smooth) - real_map).abs().max()))
    assert logit_errors == sorted(logit_errors, reverse=True) and logit_errors[-1] < 1e-6
    assert map_errors == sorted(map_errors, reverse=True)
    assert map_errors[-1] < 1e-3 * float(real_map.max())


def test_model_is_untouched(images):
    net = make_cnn()
    before = net(images)
    with softplus_relu(10.0):
        net(images)
    assert torch.equal(net(images), before)
    assert all(type(m) is not nn.Softplus for m in net.modules())


def test_mode_is_thread_local():
    seen = {}
    inside, done = threading.Event(), threading.Event()

    def outside_thread():
        inside.wait(10)
        seen["relu"] = torch.relu(X)
        seen["stack"] = torch._C._len_torch_function_stack()
        done.set()

    thread = threading.Thread(target=outside_thread)
    thread.start()
    with softplus_relu(10.0):
        inside.set()
        done.wait(10)
        torch.testing.assert_close(torch.relu(X), SOFTPLUS)
    thread.join()
    assert torch.equal(seen["relu"], X.clamp_min(0)) and seen["stack"] == 0


def test_describe_names_beta():
    assert "softplus(beta=10)" in describe(10.0)
