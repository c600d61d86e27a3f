import torch
from captum.attr import GuidedBackprop
from torch import nn

from fragility.explainers import get_method
from fragility.explainers.guided_backprop import guided_relu
from fragility.models.model import as_model

from ._reference import captum, close, ours


def test_equals_captum_guided_backprop(cnn, images):
    close(ours("guided-backprop", cnn, images).attributions,
          captum(GuidedBackprop(cnn), images, target=cnn(images).argmax(1)))


def test_equals_captum_on_functional_relus(functional_cnn, images):
    net = nn.Sequential(functional_cnn.conv1, nn.ReLU(), functional_cnn.conv2, nn.ReLU(),
                        functional_cnn.conv3, nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                        functional_cnn.fc)
    close(ours("guided-backprop", functional_cnn, images).attributions,
          captum(GuidedBackprop(net), images, target=net(images).argmax(1)))


def test_rule_by_hand():
    z = torch.tensor([-1.0, 2.0, 3.0, -4.0], requires_grad=True)
    with guided_relu():
        out = torch.relu(z)
    assert torch.equal(out, torch.tensor([0.0, 2.0, 3.0, 0.0]))
    (grad,) = torch.autograd.grad(out, z, torch.tensor([5.0, -6.0, 7.0, 8.0]))
    assert torch.equal(grad, torch.tensor([0.0, 0.0, 7.0, 0.0]))


def test_surrogate_approaches_the_rule_as_beta_grows(cnn, images):
    spec = get_method("guided-backprop")
    real = ours("guided-backprop", cnn, images).attributions
    errors = [(spec.differentiable(as_model(cnn), images, None, beta=beta).attributions.detach()
               - real).abs() for beta in (10.0, 100.0, 1e4, 1e6)]
    means = [float(error.mean()) for error in errors]
    assert means == sorted(means, reverse=True) and means[-1] < 1e-4 * means[0]
    assert float(errors[-1].max()) < 1e-2 * float(real.abs().max())
    assert "softplus(beta=10)" in spec.surrogate_description(10.0)
