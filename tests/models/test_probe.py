"""Models are checked once when wrapped or loaded (one probe batch), and on every call:
whatever a model returns that is not (N, classes) logits is a ModelError saying so."""

import copy

import pytest
import torch
from torch import nn

import fragility as fg
from fragility.models.model import as_model, probe
from nets import make_cnn


class Returns(nn.Module):
    """Runs a small CNN, then returns `shape(logits)` instead of the logits."""

    def __init__(self, shape, classes=5):
        super().__init__()
        self.net, self.shape = make_cnn(classes=classes), shape

    def forward(self, x):
        return self.shape(self.net(x))


@pytest.mark.parametrize("shape,message", [
    (lambda y: y[:, 0], r"returned a tensor of shape \(2,\) for a batch of shape "
                        r"\(2, 3, 16, 16\); expected one tensor of logits of shape \(2, classes\)"),
    (lambda y: (y, y), r"returned a tuple of 2 items \(Tensor, Tensor\)"),
    (lambda y: {"logits": y}, r"returned a dict with keys \['logits'\]"),
    (lambda y: None, "returned None"),
    (lambda y: y.unsqueeze(-1), r"returned a tensor of shape \(2, 5, 1\)"),
    (lambda y: y[:1], r"returned a tensor of shape \(1, 5\) for a batch of shape \(2,"),
    (lambda y: y.argmax(dim=1, keepdim=True).expand(-1, 5), "returned torch.int64 values"),
    (lambda y: y[:, :1], "returned one score per image"),
    (lambda y: y * float("nan"), "returned NaN or infinite logits"),
])
def test_wrong_outputs_are_named_at_wrap_time(shape, message):
    with pytest.raises(fg.ModelError, match=message):
        fg.wrap_model(Returns(shape), input_size=16)


def test_the_same_checks_guard_every_call_of_an_unwrapped_module():
    images = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    with pytest.raises(fg.ModelError, match="returned a tuple of 2 items"):
        fg.attack(Returns(lambda y: (y, y)), images, steps=1)
    with pytest.raises(fg.ModelError, match=r"returned a tensor of shape \(1,\)"):
        fg.explain(Returns(lambda y: y[:, 0]), images)


def test_label_count_must_match_the_classes():
    with pytest.raises(fg.ModelError, match="returns 5 class logits but has 3 labels; give "
                                            "exactly 5 labels"):
        fg.wrap_model(make_cnn(classes=5), labels=["a", "b", "c"], input_size=16)
    model = fg.wrap_model(make_cnn(classes=5), input_size=16)
    assert model.classes == 5
    with pytest.raises(fg.ModelError, match="but has 4 labels"):
        fg.wrap_model(model, labels=list("abcd"))       # relabelling a wrapped model


def test_meta_device_is_refused():
    with torch.device("meta"):
        net = make_cnn()
    for wrap in (lambda: fg.wrap_model(net), lambda: as_model(net),
                 lambda: fg.attack(net, torch.rand(1, 3, 8, 8), steps=1)):
        with pytest.raises(fg.ModelError, match="meta device .* load real weights"):
            wrap()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_refused_with_the_way_out(dtype):
    net = make_cnn(dtype=dtype)
    images = torch.rand(1, 3, 16, 16)
    with pytest.raises(fg.ModelError, match=r"computes in (b?float16).*Spearman.*"
                                            r"copy\.deepcopy\(net\)\.float\(\)"):
        fg.attack(net, images, steps=2)
    # the way out the message gives: a float32 copy, and finite numbers
    result = fg.attack(copy.deepcopy(net).float(), images, steps=2, k=20)
    assert torch.isfinite(result.metrics["spearman"]).all()
    assert net[0].weight.dtype == dtype            # the caller's model is unchanged


def test_own_module_errors_keep_their_message_file_models_do_not():
    class Fails(nn.Module):
        def forward(self, x):
            raise ValueError("my own bug at line 3")

    with pytest.raises(fg.ModelError, match="failed on a probe batch of shape "
                                            r"\(2, 3, 16, 16\).*ValueError: my own bug"):
        fg.wrap_model(Fails(), input_size=16)
    quiet = fg.Model(Fails(), quiet_errors=True, input_size=16)
    with pytest.raises(fg.ModelError) as raised:
        probe(quiet)
    assert "ValueError" in str(raised.value) and "my own bug" not in str(raised.value)


def test_without_an_input_size_a_size_failure_is_not_judged():
    class SixteenOnly(nn.Module):       # a fixed-size head: fails at the probe's 224
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3 * 16 * 16, 4)

        def forward(self, x):
            return self.fc(x.flatten(1))

    model = fg.wrap_model(SixteenOnly())
    assert model.classes is None
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 4)
    with pytest.raises(fg.ModelError, match="failed on a probe batch"):
        fg.wrap_model(SixteenOnly(), input_size=32)


def test_probe_leaves_the_module_as_it_was():
    net = make_cnn()
    net.train()
    before = {name: value.clone() for name, value in net.state_dict().items()}
    fg.wrap_model(net, input_size=16)
    assert all(module.training for module in net.modules())
    assert all(torch.equal(value, before[name]) for name, value in net.state_dict().items())
    assert all(parameter.grad is None for parameter in net.parameters())
