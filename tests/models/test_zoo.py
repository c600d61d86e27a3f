import urllib.error

import pytest
import torch
import torchvision

from fragility.errors import ModelError
from fragility.models import load_model
from fragility.models.zoo import ZOO, architecture, cache_file, wrap_zoo


@pytest.fixture
def offline_torch_home(tmp_path, monkeypatch):
    """An empty torch cache in tmp_path, and downloads that fail as they do offline."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("no network (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path


@pytest.mark.parametrize("name", ZOO)
def test_zoo_builders_take_labels_and_normalisation_from_the_weights_meta(name):
    net, weights = architecture(name)
    model = wrap_zoo(name, net, weights)
    assert model.labels == list(weights.meta["categories"]) and len(model.labels) == 1000
    assert model.labels[281] == "tabby"
    assert torch.allclose(model.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))
    assert torch.allclose(model.std.flatten(), torch.tensor([0.229, 0.224, 0.225]))
    assert model.input_size == weights.transforms().crop_size[0] == 224
    assert model.domain == "imagenet" and model.name == name and not model.training
    if name in ("squeezenet1_1", "resnet18", "mobilenet_v3_large"):  # the cheap ones
        assert model(torch.rand(1, 3, 64, 64)).shape == (1, 1000)


def test_offline_error_names_folder_file_and_the_bundled_model(offline_torch_home):
    expected = offline_torch_home / "hub" / "checkpoints" / "squeezenet1_1-b8a52dc0.pth"
    assert cache_file("squeezenet1_1") == expected
    with pytest.raises(ModelError) as caught:
        load_model("squeezenet1_1", device="cpu")
    message = str(caught.value)
    assert str(expected.parent) in message and expected.name in message
    assert "bundled" in message and "offline" in message
    assert not expected.exists()


@pytest.mark.parametrize("name", ["squeezenet1_1", "densenet121"])
def test_loads_weights_placed_in_the_cache(offline_torch_home, name):
    torch.manual_seed(0)
    reference = torchvision.models.get_model(name, weights=None).eval()
    target = cache_file(name)
    target.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), target)
    model = load_model(name, device="cpu")
    x = torch.rand(1, 3, 64, 64)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(model(x), reference((x - mean) / std), atol=1e-5)
    assert model.labels[0] == "tench" and model.input_size == 224


def test_densenet_checkpoints_with_old_key_names_load(offline_torch_home):
    # torchvision's published DenseNet files use "norm.1"-style keys and, being old,
    # have no batch-norm step counters
    torch.manual_seed(0)
    reference = torchvision.models.get_model("densenet121", weights=None)
    state = {key.replace("norm1", "norm.1").replace("conv2", "conv.2"): value
             for key, value in reference.state_dict().items()
             if not key.endswith("num_batches_tracked")}
    assert any("norm.1" in key for key in state)
    target = cache_file("densenet121")
    target.parent.mkdir(parents=True)
    torch.save(state, target)
    model = load_model("densenet121", device="cpu")
    assert torch.equal(model.net.features.denseblock1.denselayer1.norm1.weight,
                       reference.features.denseblock1.denselayer1.norm1.weight)


def test_a_wrong_file_in_the_cache_is_a_model_error(offline_torch_home):
    target = cache_file("resnet18")
    target.parent.mkdir(parents=True)
    torch.save(torchvision.models.get_model("squeezenet1_1").state_dict(), target)
    with pytest.raises(ModelError, match="missing keys"):
        load_model("resnet18", device="cpu")


def test_weights_file_for_a_zoo_architecture(tmp_path, offline_torch_home):
    torch.manual_seed(1)
    reference = torchvision.models.get_model("resnet18", weights=None)
    path = tmp_path / "mine.pth"
    torch.save(reference.state_dict(), path)
    model = load_model("resnet18", device="cpu", weights=path)
    assert torch.equal(model.net.fc.weight, reference.fc.weight)
    assert model.labels[1] == "goldfish"
