import pytest
import torch
from captum.attr import IntegratedGradients

import fragility as fg
from fragility.explainers import get_method
from fragility.explainers.baselines import baseline as make_baseline

from ._reference import captum, close, ours


def test_dataset_mean_reference_equals_captum_with_that_baseline(cnn, images):
    model = fg.wrap_model(cnn, mean=(0.2, 0.4, 0.6), std=(1.0, 1.0, 1.0))
    reference = make_baseline(images, "dataset-mean", model)
    assert torch.allclose(reference[:, :, 5, 7], torch.tensor([0.2, 0.4, 0.6], dtype=images.dtype))
    expected = captum(IntegratedGradients(model), images, baselines=reference, n_steps=25,
                      method="riemann_right", target=model(images).argmax(1))
    close(get_method("integrated-gradients").fn(model, images, None, steps=25).attributions, expected,
          rtol=1e-6)


@pytest.mark.parametrize("baseline", ["black", "mean", "blur"])
def test_equals_captum_riemann_right(baseline, cnn, images):
    target = cnn(images).argmax(1)
    expected = captum(IntegratedGradients(cnn), images, baselines=make_baseline(images, baseline),
                      target=target, n_steps=25, method="riemann_right")
    # captum builds its step fractions k/M in float32; ours are float64, hence rtol 1e-6.
    close(ours("integrated-gradients", cnn, images, steps=25, baseline=baseline).attributions,
          expected, rtol=1e-6)


@pytest.mark.parametrize("baseline", ["black", "mean", "blur"])
def test_completeness(baseline, cnn, images):
    target = cnn(images).argmax(1)
    reference = make_baseline(images, baseline)
    change = (cnn(images) - cnn(reference)).gather(1, target[:, None]).squeeze(1).detach()
    assert change.abs().min() > 1e-4

    def error(steps):
        result = ours("integrated-gradients", cnn, images, steps=steps, baseline=baseline,
                      batch_size=3000)
        return (result.attributions.sum(dim=(1, 2, 3)) - change).abs()

    # The sum converges to f(x) - f(baseline) as the number of steps grows (O(1/M)).
    coarse, fine = error(100), error(2000)
    assert bool((fine <= 0.01 * change.abs().max()).all())
    assert bool((fine < coarse).all())


def test_linear_model_is_exact_with_one_step(images):
    torch.manual_seed(0)
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 4)).double()
    result = ours("integrated-gradients", linear, images, target=3, steps=1)
    torch.testing.assert_close(result.attributions,
                               images * linear[1].weight[3].reshape(1, 3, 16, 16))


def test_chunked_passes_equal_one_batch(cnn, images):
    whole = ours("integrated-gradients", cnn, images, steps=10)
    chunked = ours("integrated-gradients", cnn, images, steps=10, batch_size=7)  # 2 steps a pass
    torch.testing.assert_close(chunked.attributions, whole.attributions, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(chunked.logits, whole.logits)


def test_one_forward_pass_over_all_steps(cnn, images):
    sizes = []
    handle = cnn.register_forward_pre_hook(lambda module, inputs: sizes.append(inputs[0].shape[0]))
    try:
        ours("integrated-gradients", cnn, images, steps=12)
    finally:
        handle.remove()
    assert sizes == [12 * 3]
