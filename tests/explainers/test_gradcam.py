import pytest
import torch
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

from fragility.errors import ConfigError
from fragility.explainers.gradcam import find_layer
from fragility.models.model import as_model

from ._reference import captum, close, ours


def _captum_gradcam(net, layer, images):
    cam = captum(LayerGradCam(net, layer), images, target=net(images).argmax(1),
                 relu_attributions=True)
    return LayerAttribution.interpolate(cam, (16, 16), "bilinear")


def test_equals_captum_on_the_last_conv(cnn, images):
    result = ours("gradcam", cnn, images).attributions
    assert result.shape == (3, 1, 16, 16) and bool((result >= 0).all())
    close(result, _captum_gradcam(cnn, cnn[2], images))


def test_equals_captum_on_a_named_layer(cnn, images):
    close(ours("gradcam", cnn, images, layer="0").attributions, _captum_gradcam(cnn, cnn[0], images))


def test_finds_the_last_conv_through_the_wrapper(cnn, functional_cnn):
    assert find_layer(as_model(cnn), None) == ("2", cnn[2])
    assert find_layer(functional_cnn, None) == ("conv3", functional_cnn.conv3)
    assert find_layer(as_model(functional_cnn), "conv1") == ("conv1", functional_cnn.conv1)


def test_in_place_relu_after_the_layer_does_not_change_the_activation(cnn, images):
    inplace = nn.Sequential(*cnn[:3], nn.ReLU(inplace=True), *cnn[4:])
    close(ours("gradcam", inplace, images).attributions, ours("gradcam", cnn, images).attributions)


class WithSpareLayer(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net, self.spare = net, nn.Conv2d(3, 3, 1).double()

    def forward(self, x):
        return self.net(x)


def test_layers_that_cannot_serve(cnn, images):
    with pytest.raises(ConfigError, match=r"needs a layer with \(N,C,h,w\) output; layer '6' gives \(3, 5\)"):
        ours("gradcam", cnn, images, layer="6")
    flat = nn.Sequential(nn.Flatten(), nn.Linear(768, 4)).double()
    with pytest.raises(ConfigError, match="no nn.Conv2d"):
        ours("gradcam", flat, images)
    unused = WithSpareLayer(cnn)
    with pytest.raises(ConfigError, match="layer 'spare' was not used"):
        ours("gradcam", unused, images, layer="spare")
    assert all(not m._forward_hooks for m in unused.modules())


def test_hook_ignores_forward_passes_of_other_threads(cnn):
    import threading

    from fragility.explainers.gradcam import captured_output

    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    with captured_output(cnn[2]) as outputs:
        worker = threading.Thread(target=cnn, args=(x,))
        worker.start()
        worker.join()
        assert outputs == []
        cnn(x)
    assert len(outputs) == 1
