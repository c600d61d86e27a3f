import torch
from captum.attr import Saliency
from torch import nn

from ._reference import captum, close, ours


def test_equals_captum_saliency(cnn, images):
    target = cnn(images).argmax(1)
    close(ours("gradient", cnn, images).attributions,
          captum(Saliency(cnn), images, target=target, abs=False))


def test_linear_model_gradient_is_its_weight(images):
    torch.manual_seed(0)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 4)).double()
    result = ours("gradient", linear, images, target=2)
    expected = linear[1].weight[2].reshape(1, 3, 16, 16).expand(3, -1, -1, -1)
    torch.testing.assert_close(result.attributions, expected)
