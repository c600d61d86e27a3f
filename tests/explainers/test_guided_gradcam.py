import torch
from captum.attr import GuidedGradCam

from fragility.explainers import get_method
from fragility.models.model import as_model

from ._reference import captum, close, ours


def test_equals_captum_guided_gradcam_with_bilinear_upsampling(cnn, images):
    expected = captum(GuidedGradCam(cnn, cnn[2]), images, target=cnn(images).argmax(1),
                      interpolate_mode="bilinear")
    result = ours("guided-gradcam", cnn, images)
    assert result.attributions.shape == images.shape
    close(result.attributions, expected)


def test_is_guided_backprop_times_gradcam(cnn, images):
    guided = ours("guided-backprop", cnn, images).attributions
    cam = ours("gradcam", cnn, images, layer="0").attributions
    close(ours("guided-gradcam", cnn, images, layer="0").attributions, guided * cam)


def test_surrogate_has_a_graph_to_the_input(cnn, images):
    x = images.clone().requires_grad_(True)
    surrogate = get_method("guided-gradcam").differentiable(as_model(cnn), x, None, beta=10.0)
    (grad,) = torch.autograd.grad(surrogate.attributions.abs().sum(), x)
    assert grad.abs().sum() > 0
