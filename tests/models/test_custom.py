import os
import pickle
import random
import zipfile

import pytest
import torch
from torch import nn

import fragility
from fragility.errors import ConfigError, ModelError
from fragility.models import load_model, models
from fragility.models.bundled import build_net


class _Boom:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_torchscript_file_loads_and_runs_its_graph(tmp_path):
    torch.manual_seed(0)
    net = _Tiny().eval()
    path = tmp_path / "tiny.pt"
    torch.jit.script(net).save(str(path))
    model = load_model(path, device="cpu")
    x = torch.rand(2, 3, 8, 8)
    assert torch.allclose(model(x), net(x), atol=1e-6)
    assert model.name == "tiny" and not model.training
    assert load_model(str(path), device="cpu").name == "tiny"


def test_state_dict_for_a_named_architecture(tmp_path):
    torch.manual_seed(0)
    net = build_net(10)
    for module in net.modules():          # give batch norm non-default statistics
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
    path = tmp_path / "weights.pt"
    torch.save(net.state_dict(), path)
    model = load_model("bundled", device="cpu", weights=path)
    for name, value in net.state_dict().items():
        assert torch.equal(model.net.state_dict()[name], value)
    # the same through safetensors
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "w.safetensors"))
    model = load_model("bundled", device="cpu", weights=tmp_path / "w.safetensors")
    assert torch.equal(model.net[0].weight, net[0].weight)


def test_state_dict_with_wrong_keys_names_them(tmp_path):
    state = build_net(10).state_dict()
    state["extra.weight"] = torch.zeros(1)
    del state["0.weight"]
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(ModelError, match=r"missing keys 0\.weight.*unexpected keys extra\.weight"):
        load_model("bundled", device="cpu", weights=path)


def test_state_dict_with_wrong_shapes(tmp_path):
    path = tmp_path / "shapes.pt"
    torch.save(build_net(7).state_dict(), path)   # 7 classes instead of 10
    with pytest.raises(ModelError, match="wrong shapes"):
        load_model("bundled", device="cpu", weights=path)


@pytest.mark.parametrize("as_weights", [True, False])
def test_pickled_code_is_refused_and_never_runs(tmp_path, as_weights):
    marker = tmp_path / "marker"
    for index, payload in enumerate(({"weight": _Boom(marker)}, _Boom(marker))):
        path = tmp_path / f"evil{index}.pt"
        torch.save(payload, path)
        with pytest.raises(ModelError, match="refused"):
            if as_weights:
                load_model("bundled", device="cpu", weights=path)
            else:
                load_model(path, device="cpu")
        legacy = tmp_path / f"legacy{index}.pkl"     # a plain pickle, not torch's zip format
        legacy.write_bytes(pickle.dumps(payload))
        with pytest.raises(ModelError):
            if as_weights:
                load_model("bundled", device="cpu", weights=legacy)
            else:
                load_model(legacy, device="cpu")
    assert not marker.exists()


def test_pickled_full_module_is_refused(tmp_path):
    path = tmp_path / "module.pt"
    torch.save(_Tiny(), path)
    with pytest.raises(ModelError, match="refused"):
        load_model(path, device="cpu")
    with pytest.raises(ModelError, match="refused"):
        load_model("resnet18", device="cpu", weights=path)


def test_state_dict_given_as_model_path_explains_what_to_do(tmp_path):
    path = tmp_path / "sd.pt"
    torch.save(build_net(10).state_dict(), path)
    with pytest.raises(ModelError, match="weights="):
        load_model(path, device="cpu")


# Fixed bytes and ids: every pytest-xdist worker must collect the same tests.
@pytest.mark.parametrize("content", [b"", b"garbage" * 100, b"PK\x03\x04 not really a zip",
                                     random.Random(0).randbytes(2048)],
                         ids=["empty", "text", "fake-zip", "random-bytes"])
def test_garbage_files(tmp_path, content):
    path = tmp_path / "junk.pt"
    path.write_bytes(content)
    with pytest.raises(ModelError):
        load_model(path, device="cpu")
    with pytest.raises(ModelError):
        load_model("bundled", device="cpu", weights=path)


def test_zip_that_is_not_a_model(tmp_path):
    path = tmp_path / "archive.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ModelError):
        load_model(path, device="cpu")


def test_non_tensor_checkpoint_is_refused(tmp_path):
    path = tmp_path / "numbers.pt"
    torch.save({"epoch": 3, "lr": 0.1}, path)
    with pytest.raises(ModelError, match="state dict"):
        load_model("bundled", device="cpu", weights=path)


def test_missing_paths_folders_and_unknown_names(tmp_path):
    with pytest.raises(ModelError, match="no such"):
        load_model(tmp_path / "nope.pt", device="cpu")
    with pytest.raises(ModelError, match="folder"):
        load_model(tmp_path, device="cpu")
    with pytest.raises(ConfigError, match="resnet18"):
        load_model("resnet19", device="cpu")
    with pytest.raises(ModelError, match="no such"):
        load_model("bundled", device="cpu", weights=tmp_path / "nope.pt")


def test_registry_names():
    names = models()
    assert names[0] == "bundled"
    assert {"squeezenet1_1", "resnet18", "resnet50", "vgg16", "densenet121",
            "mobilenet_v3_large"} <= set(names)
    assert fragility.models is not None


def test_device_defaults_to_cuda_when_available():
    from fragility.models.registry import resolve_device
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None).type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    assert load_model("bundled").device.type == expected
