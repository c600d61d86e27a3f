import pytest
import torch

import fragility as fg
from captum.attr import DeepLift
from torch import nn

from fragility.explainers import get_method
from fragility.explainers.baselines import baseline as make_baseline
from fragility.models.model import as_model
from nets import make_cnn

from ._reference import captum, close, ours


@pytest.mark.parametrize("baseline", ["mean", "black", "blur"])
def test_equals_captum_deeplift(baseline, cnn, images):
    expected = captum(DeepLift(cnn), images, baselines=make_baseline(images, baseline),
                      target=cnn(images).argmax(1))
    close(ours("deeplift", cnn, images, baseline=baseline).attributions, expected, rtol=1e-10)


def test_equals_captum_on_functional_relus(functional_cnn, images):
    # captum hooks nn.ReLU modules only; the same network written with modules:
    net = nn.Sequential(functional_cnn.conv1, nn.ReLU(), functional_cnn.conv2, nn.ReLU(),
                        functional_cnn.conv3, nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                        functional_cnn.fc)
    expected = captum(DeepLift(net), images, baselines=make_baseline(images, "mean"),
                      target=net(images).argmax(1))
    close(ours("deeplift", functional_cnn, images, baseline="mean").attributions, expected, rtol=1e-10)


def test_dataset_mean_reference_is_fixed_and_equals_captum(cnn, images):
    mean_image = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(3))
    model = fg.wrap_model(cnn, dataset_mean=mean_image)
    reference = make_baseline(images, "dataset-mean", model)
    assert torch.equal(reference, mean_image.to(images.dtype).expand_as(images))
    expected = captum(DeepLift(cnn), images, baselines=reference, target=cnn(images).argmax(1))
    close(get_method("deeplift").fn(model, images, None).attributions, expected, rtol=1e-10)
    # The reference does not move with the image (unlike "mean" and "blur").
    assert torch.equal(make_baseline(images * 0.5, "dataset-mean", model), reference)


@pytest.mark.parametrize("baseline", ["mean", "black"])
def test_summation_to_delta(baseline, cnn, images):
    result = ours("deeplift", cnn, images, baseline=baseline)
    target = result.logits.argmax(1, keepdim=True)
    change = (cnn(images) - cnn(make_baseline(images, baseline))).gather(1, target).squeeze(1)
    torch.testing.assert_close(result.attributions.sum(dim=(1, 2, 3)), change.detach(),
                               rtol=1e-9, atol=1e-12)


def test_surrogate_is_deeplift_of_the_softplus_network(cnn, images):
    softplus = make_cnn()
    softplus[1], softplus[3] = nn.Softplus(beta=10.0), nn.Softplus(beta=10.0)
    x = images.clone().requires_grad_(True)
    surrogate = get_method("deeplift").differentiable(as_model(cnn), x, None, beta=10.0, baseline="mean")
    expected = captum(DeepLift(softplus), images, baselines=make_baseline(images, "mean"),
                      target=surrogate.logits.argmax(1))
    close(surrogate.attributions, expected, rtol=1e-10)
    assert surrogate.attributions.requires_grad
