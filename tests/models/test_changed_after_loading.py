"""A model checked at loading is checked again at every call: made half precision, moved to
the meta device, given NaN logits, or unable to pass a gradient back, it gets one message."""

import pytest
import torch
from torch import nn

import fragility as fg

IMAGE = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def calls(model, image=IMAGE):
    """Every public entry point that takes a model."""
    return {
        "explain": lambda: fg.explain(model, image),
        "attack": lambda: fg.attack(model, image, steps=1, k=20),
        "predict": lambda: fg.predict(model, image),
    }


@pytest.mark.parametrize("call", ["explain", "attack", "predict"])
@pytest.mark.parametrize("change,message", [
    (lambda m: m.half(), "computes in float16"),
    (lambda m: m.bfloat16(), "computes in bfloat16"),
    (lambda m: m.to("meta"), "has its weights on the meta device"),
])
def test_precision_or_device_changed_after_loading(call, change, message):
    model = fg.load_model("bundled", device="cpu")
    change(model)
    with pytest.raises(fg.ModelError, match=message):
        calls(model)[call]()


@pytest.mark.parametrize("call", ["explain", "attack", "predict"])
def test_an_image_on_the_meta_device_is_refused(call):
    model = fg.load_model("bundled", device="cpu")
    with pytest.raises(fg.InputError, match="images are on the meta device"):
        calls(model, IMAGE.to("meta"))[call]()


class NaNLogits(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 4)

    def forward(self, x):
        return self.linear(x.mean(dim=(2, 3))) * float("nan")


class Constant(nn.Module):
    """No parameters, and logits that do not depend on the image."""

    def forward(self, x):
        return torch.zeros(x.shape[0], 4)


@pytest.mark.parametrize("call", ["explain", "attack", "predict"])
def test_a_raw_module_with_nan_logits_is_named(call):
    with pytest.raises(fg.ModelError, match="NaNLogits returned NaN or infinite logits"):
        calls(NaNLogits())[call]()


@pytest.mark.parametrize("call", ["explain", "attack"])
def test_a_module_whose_logits_ignore_the_image_gets_a_clear_error(call):
    with pytest.raises(fg.ModelError, match="do not depend on the input image"):
        calls(Constant())[call]()


def test_weights_made_nan_after_loading_are_caught_at_the_call():
    model = fg.load_model("bundled", device="cpu")
    with torch.no_grad():
        model.net[-1].weight.fill_(float("nan"))
    with pytest.raises(fg.ModelError, match="bundled returned NaN or infinite logits"):
        fg.attack(model, IMAGE, steps=1, k=20)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_for_a_named_architecture_are_refused(value, tmp_path):
    state = fg.load_model("bundled", device="cpu").net.state_dict()
    state["3.weight"] = state["3.weight"].clone()
    state["3.weight"][0] = value
    path = tmp_path / "weights.pt"
    torch.save(state, path)
    with pytest.raises(fg.ModelError, match=r"weights\.pt hold NaN or infinite values \(in 3\.weight\)"):
        fg.load_model("bundled", device="cpu", weights=path)
