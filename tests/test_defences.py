"""Defences switched on for any method: beta-smoothing and SmoothGrad."""

import pytest
import torch
from torch import nn

import fragility as fg
from fragility.defences import defended
from nets import make_cnn


def _softplus_copy(beta):
    net = make_cnn()
    net[1], net[3] = nn.Softplus(beta=beta), nn.Softplus(beta=beta)
    return net


def test_beta_smoothing_is_the_map_of_the_softplus_network(cnn, images):
    spec = defended(fg.get_method("gradient"), "beta-smoothing")
    result = spec.fn(fg.wrap_model(cnn), images, None, defence_beta=2.0)
    x = images.clone().requires_grad_(True)
    smooth = _softplus_copy(2.0)
    target = cnn(images).argmax(1)           # the class is picked on the real network
    expected, = torch.autograd.grad(smooth(x).gather(1, target[:, None]).sum(), x)
    torch.testing.assert_close(result.attributions, expected)
    torch.testing.assert_close(result.logits, cnn(images))   # the label check sees the real network


def test_smoothgrad_defence_of_the_gradient_is_smoothgrad(cnn, images):
    spec = defended(fg.get_method("gradient"), "smoothgrad")
    result = spec.fn(fg.wrap_model(cnn), images, None, defence_samples=5, defence_sigma=0.1, defence_seed=3)
    expected = fg.attribute(cnn, images, "smoothgrad", samples=5, sigma=0.1, seed=3)
    torch.testing.assert_close(result.attributions, expected.attributions)
    assert spec.stochastic and spec.seed_options == ("defence_seed",)


@pytest.mark.parametrize("defence", fg.defences())
@pytest.mark.parametrize("method", ["gradient", "deeplift", "guided-backprop"])
def test_attack_with_a_defence(defence, method, cnn, images):
    options = {"samples": 3} if defence == "smoothgrad" else {"beta": 3.0}
    result = fg.attack(cnn, images, method=method, steps=2, k=20, defence=defence, defence_options=options)
    assert result.config["defence"] == defence and result.found.all()
    assert result.config["method_options"][f"defence_{next(iter(options))}"] == next(iter(options.values()))
    for name in ("faithfulness_spearman", "faithfulness_top_k_intersection"):
        assert result.metrics[name].shape == (3,)
        assert (result.metrics[name] <= 1 + 1e-9).all()
    assert (result.noise_floor is not None) == (defence == "smoothgrad")


def test_faithfulness_compares_with_the_undefended_map(cnn, images):
    result = fg.attack(cnn, images, steps=0, k=20, defence="beta-smoothing", defence_options={"beta": 2.0})
    plain = fg.explain(cnn, images, "gradient")
    torch.testing.assert_close(result.metrics["faithfulness_spearman"],
                               fg.metrics.spearman(plain, result.original_maps))
    # A very sharp softplus is nearly ReLU: the defended map is then nearly the plain one.
    sharp = fg.attack(cnn, images, steps=0, k=20, defence="beta-smoothing", defence_options={"beta": 1e4})
    assert (sharp.metrics["faithfulness_spearman"] > result.metrics["faithfulness_spearman"]).all()
    assert (sharp.metrics["faithfulness_spearman"] > 0.99).all()


def _noise_seeds(monkeypatch, cnn, images, **defence_options):
    """(seeds of the noise the attack differentiated, seeds of the noise it scored with)."""
    import sys

    defences = sys.modules["fragility.defences"]   # fg.defences is the function of that name
    seen = []
    original = defences.noisy_copies

    def recording(x, samples, std, seed):
        seen.append((x.requires_grad, seed))
        return original(x, samples, std, seed)

    monkeypatch.setattr(defences, "noisy_copies", recording)
    fg.attack(cnn, images, steps=3, k=20, defence="smoothgrad",
              defence_options={"samples": 2, "seed": 5, **defence_options})
    return ([seed for differentiated, seed in seen if differentiated],
            {seed for differentiated, seed in seen if not differentiated})


def test_smoothgrad_noise_is_one_fixed_draw_per_attack_unless_fresh(monkeypatch, cnn, images):
    from fragility.explainers.registry import scoring_seed

    fixed, scored = _noise_seeds(monkeypatch, cnn, images)
    assert fixed == [5, 5, 5]                      # every step fits the same noise
    fresh, fresh_scored = _noise_seeds(monkeypatch, cnn, images, fresh_noise=True)
    assert len(fresh) == 3 and len(set(fresh)) == 3 and 5 not in fresh[1:]
    # The scoring noise is independent of both, and the same with or without fresh noise.
    assert scoring_seed(5) in scored and fresh_scored == scored and not scored & set(fresh)
    again, _ = _noise_seeds(monkeypatch, cnn, images, fresh_noise=True)
    assert again == fresh                          # seeded: the same run draws the same noise
