"""SmoothGrad against captum's NoiseTunnel(Saliency) with the same noise.

captum draws its noise with `torch.normal(0, std)` from the global generator, in
float32. Two exact comparisons: (1) float32, the global generator seeded with our seed:
the draws coincide with ours, no patching; (2) float64, captum's noise function
replaced by ours, so everything after the noise (targets, averaging) is compared.
"""

import pytest
import torch
from captum.attr import NoiseTunnel, Saliency

from fragility.explainers.smoothgrad import noisy_copies
from nets import make_cnn

from ._reference import captum, close, ours


def test_equals_captum_with_its_own_noise_in_float32(images):
    net = make_cnn(dtype=torch.float32)
    x = images.float()
    target = net(x).argmax(1)
    torch.manual_seed(7)
    expected = captum(NoiseTunnel(Saliency(net)), x, nt_type="smoothgrad", nt_samples=12,
                      stdevs=0.2, target=target, abs=False)
    close(ours("smoothgrad", net, x, samples=12, sigma=0.2, seed=7).attributions, expected, rtol=1e-5)


def test_equals_captum_with_the_same_noise_in_float64(cnn, images, monkeypatch):
    seed, samples, sigma = 3, 9, 0.15
    monkeypatch.setattr(NoiseTunnel, "_add_noise_to_input", staticmethod(
        lambda x, std, n: noisy_copies(x, n, std, seed)))
    expected = captum(NoiseTunnel(Saliency(cnn)), images, nt_type="smoothgrad", nt_samples=samples,
                      stdevs=sigma, target=cnn(images).argmax(1), abs=False)
    close(ours("smoothgrad", cnn, images, samples=samples, sigma=sigma, seed=seed).attributions,
          expected)


def test_seeded_reproducible_and_independent_of_global_rng(cnn, images):
    torch.manual_seed(0)
    first = ours("smoothgrad", cnn, images).attributions
    torch.manual_seed(123)
    state = torch.get_rng_state()
    second = ours("smoothgrad", cnn, images).attributions
    assert torch.equal(torch.get_rng_state(), state)  # the global generator was not used
    assert torch.equal(first, second)
    assert not torch.allclose(ours("smoothgrad", cnn, images, seed=1).attributions, first)


def test_noise_has_the_requested_spread(images):
    noisy = noisy_copies(images, 200, 0.15, 0)
    assert noisy.shape == (600, 3, 16, 16)
    noise = noisy - images.repeat_interleave(200, dim=0)
    assert abs(float(noise.std()) - 0.15) < 0.005 and abs(float(noise.mean())) < 0.005
    assert torch.equal(noisy[:200] - noise[:200], images[:1].expand(200, -1, -1, -1))


def test_zero_noise_is_the_gradient(cnn, images):
    close(ours("smoothgrad", cnn, images, samples=3, sigma=0.0).attributions,
          ours("gradient", cnn, images).attributions)


@pytest.mark.parametrize("samples", [1, 5])
def test_one_batch_for_all_copies(samples, cnn, images):
    sizes = []
    handle = cnn.register_forward_pre_hook(lambda module, inputs: sizes.append(inputs[0].shape[0]))
    try:
        ours("smoothgrad", cnn, images, samples=samples)
    finally:
        handle.remove()
    assert sizes == [3 * (samples + 1)]  # the copies and x itself (its logits)
