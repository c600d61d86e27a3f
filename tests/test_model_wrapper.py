"""The Model wrapper: normalisation inside, nothing of the caller's module changed."""

import pytest
import torch

import fragility as fg
from fragility.models.model import as_model, evaluation


def test_normalisation_happens_inside_the_wrapper(cnn):
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    model = fg.wrap_model(cnn, mean=mean, std=std, labels=list("abcde"), input_size=16)
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    expected = cnn((x - torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1))
                   / torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1))
    torch.testing.assert_close(model(x), expected)
    assert model.label_name(2) == "c" and model.label_name(9) == "class 9"
    assert model.input_size == 16


def test_wrapping_leaves_the_module_untouched(cnn):
    cnn.train()
    before = {k: v.clone() for k, v in cnn.state_dict().items()}
    model = fg.wrap_model(cnn, mean=(0, 0, 0), std=(1, 1, 1))
    with evaluation(model):
        assert not cnn.training
        model(torch.rand(1, 3, 8, 8, dtype=torch.float64))
    assert all(m.training for m in cnn.modules())
    assert all(torch.equal(before[k], v) for k, v in cnn.state_dict().items())
    assert model.net is cnn


def test_evaluation_restores_mixed_flags_even_on_error(cnn):
    cnn.train()
    cnn[0].eval()
    with pytest.raises(RuntimeError), evaluation(cnn):
        raise RuntimeError("boom")
    assert [m.training for m in cnn.modules()][:2] == [True, False]


def test_as_model_wraps_without_copying(cnn):
    model = as_model(cnn)
    assert model.net is cnn and as_model(model) is model
    assert fg.wrap_model(model) is model


@pytest.mark.parametrize("bad", [dict(mean=(0.5,) * 3), dict(mean=(0, 0), std=(1, 1)),
                                 dict(mean=(0, 0, 0), std=(1, 0, 1))])
def test_bad_normalisation_is_a_model_error(cnn, bad):
    bad.setdefault("std", None)
    with pytest.raises(fg.ModelError):
        fg.wrap_model(cnn, **bad)


def test_non_module_is_refused():
    with pytest.raises(fg.ModelError, match="nn.Module"):
        as_model(lambda x: x)
