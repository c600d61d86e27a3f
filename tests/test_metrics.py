"""Metrics against scipy / numpy / skimage references, and on bad input."""

import numpy as np
import pytest
import scipy.ndimage
import scipy.stats
import torch
from skimage.feature import hog
from skimage.metrics import structural_similarity

from fragility import metrics
from fragility.errors import ConfigError, FragilityError, InputError


def random_maps(seed, shape=(4, 12, 12), ties=False):
    generator = torch.Generator().manual_seed(seed)
    maps = torch.rand(shape, generator=generator, dtype=torch.float64)
    if ties:  # few distinct values: many ties, as in sparse ReLU gradients
        maps = torch.floor(maps * 4) / 4
    return maps


@pytest.mark.parametrize("ties", [False, True])
def test_spearman_matches_scipy(ties):
    a, b = random_maps(0, ties=ties), random_maps(1, ties=ties)
    b[0] = a[0] + 0.1 * b[0]  # a strongly correlated pair too
    ours = metrics.spearman(a, b)
    expected = [scipy.stats.spearmanr(x.flatten(), y.flatten()).statistic for x, y in zip(a.numpy(), b.numpy())]
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_spearman_of_a_map_with_itself_and_its_reverse():
    a = random_maps(2)
    assert torch.allclose(metrics.spearman(a, a), torch.ones(4, dtype=torch.float64))
    assert torch.allclose(metrics.spearman(a, -a), -torch.ones(4, dtype=torch.float64))


def test_average_ranks_hand_case():
    ranks = metrics.average_ranks(torch.tensor([[3.0, 1.0, 3.0, 2.0]]))
    assert ranks.tolist() == [[3.5, 1.0, 3.5, 2.0]]


def test_pearson_matches_scipy():
    a, b = random_maps(3), random_maps(4)
    expected = [scipy.stats.pearsonr(x.flatten(), y.flatten()).statistic for x, y in zip(a.numpy(), b.numpy())]
    np.testing.assert_allclose(metrics.pearson(a, b).numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("k", [1, 5, 30, 144])
def test_top_k_intersection_matches_numpy(k):
    a, b = random_maps(5), random_maps(6)
    b[1] = a[1] + 0.05 * b[1]
    expected = [len(set(np.argsort(-x.flatten())[:k]) & set(np.argsort(-y.flatten())[:k])) / k
                for x, y in zip(a.numpy(), b.numpy())]
    np.testing.assert_allclose(metrics.top_k_intersection(a, b, k).numpy(), expected)


def test_top_k_intersection_hand_case():
    a = torch.tensor([[0.4, 0.3], [0.2, 0.1]])
    b = torch.tensor([[0.4, 0.1], [0.3, 0.2]])
    assert metrics.top_k_intersection(a, b, 1).tolist() == [1.0]
    assert metrics.top_k_intersection(a, b, 2).tolist() == [0.5]   # {0,1} vs {0,2}
    assert metrics.top_k_intersection(a, b, 4).tolist() == [1.0]


def test_center_of_mass_matches_scipy_and_hand_case():
    maps = random_maps(7, (3, 9, 13))
    expected = [scipy.ndimage.center_of_mass(m) for m in maps.numpy()]
    np.testing.assert_allclose(metrics.center_of_mass(maps).numpy(), expected, rtol=1e-12)
    single = torch.zeros(3, 3, dtype=torch.float64)
    single[0, 2] = 1.0
    assert metrics.center_of_mass(single).tolist() == [[0.0, 2.0]]


def test_center_shift_hand_case():
    a = torch.zeros(1, 5, 5)
    b = torch.zeros(1, 5, 5)
    a[0, 0, 0] = 1.0
    b[0, 3, 4] = 1.0
    assert metrics.center_shift(a, b).tolist() == [5.0]  # a 3-4-5 triangle


def scipy_ssim(x, y, radius):
    """Wang et al.'s SSIM written with scipy's Gaussian filter, for windows under 11x11."""
    def blur(image):
        filtered = scipy.ndimage.gaussian_filter(image, sigma=1.5, truncate=radius / 1.5)
        return filtered[radius:-radius, radius:-radius]
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return (((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))).mean()


@pytest.mark.parametrize("shape", [(3, 16, 16), (2, 11, 20), (2, 7, 9)])
def test_ssim_matches_skimage(shape):
    a, b = random_maps(8, shape), random_maps(9, shape)
    b[0] = a[0] * 2 + 0.1 * b[0]  # a similar pair (SSIM compares maps after scaling to peak 1)
    expected = []
    for x, y in zip(a.numpy(), b.numpy()):
        x, y = x / x.max(), y / y.max()
        if min(shape[1:]) >= 11:
            expected.append(structural_similarity(x, y, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                                  use_sample_covariance=False))
        else:  # skimage fixes the window at 11x11; smaller maps get the largest window that fits
            expected.append(scipy_ssim(x, y, radius=(min(shape[1:]) - 1) // 2))
    np.testing.assert_allclose(metrics.ssim(a, b).numpy(), expected, rtol=1e-10)
    assert torch.allclose(metrics.ssim(a, a), torch.ones(shape[0], dtype=torch.float64))
    assert float(metrics.ssim(a, b)[0]) > 0.5 > float(metrics.ssim(a, b)[1])


def test_spearman_signed_matches_scipy_on_attributions_summed_over_channels():
    generator = torch.Generator().manual_seed(20)
    a = torch.randn(3, 3, 10, 10, generator=generator, dtype=torch.float64)
    b = torch.randn(3, 3, 10, 10, generator=generator, dtype=torch.float64)
    b[0] = a[0] + 0.3 * b[0]
    expected = [scipy.stats.spearmanr(x.sum(axis=0).ravel(), y.sum(axis=0).ravel()).statistic
                for x, y in zip(a.numpy(), b.numpy())]
    np.testing.assert_allclose(metrics.spearman_signed(a, b).numpy(), expected, rtol=1e-10)
    # (N,H,W) signed maps are taken as they are
    assert torch.equal(metrics.spearman_signed(a.sum(dim=1), b.sum(dim=1)), metrics.spearman_signed(a, b))


def test_spearman_signed_sees_a_sign_flip_that_spearman_on_magnitudes_does_not():
    a = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(21), dtype=torch.float64)
    flipped = -a
    assert torch.allclose(metrics.spearman_signed(a, flipped), -torch.ones(2, dtype=torch.float64))
    magnitude = a.abs().sum(dim=1)
    assert torch.allclose(metrics.spearman(magnitude, flipped.abs().sum(dim=1)),
                          torch.ones(2, dtype=torch.float64))


def skimage_hog_similarity(x, y):
    """Independent reference: skimage HOG of each map scaled to peak 1, scipy's Pearson."""
    cell = max(1, round(min(x.shape) / 16))
    blocks = min(3, x.shape[0] // cell, x.shape[1] // cell)

    def features(m):
        return hog(m / m.max(), orientations=9, pixels_per_cell=(cell, cell),
                   cells_per_block=(blocks, blocks), block_norm="L2-Hys")
    return scipy.stats.pearsonr(features(x), features(y)).statistic


@pytest.mark.parametrize("shape", [(3, 64, 64), (2, 16, 16), (2, 30, 45)])
def test_hog_similarity_matches_skimage_and_scipy(shape):
    a, b = random_maps(30, shape), random_maps(31, shape)
    smooth = torch.nn.functional.avg_pool2d(a[:1], 5, stride=1, padding=2)
    a[0] = smooth[0]
    b[0] = smooth[0] * 3 + 0.02 * b[0]           # a similar pair, at another scale
    expected = [skimage_hog_similarity(x, y) for x, y in zip(a.numpy(), b.numpy())]
    ours = metrics.hog_similarity(a, b)
    assert ours.dtype == torch.float64 and ours.shape == (shape[0],)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-10)
    assert float(ours[0]) > 0.8 and abs(float(ours[1])) < 0.3
    assert torch.allclose(metrics.hog_similarity(a, a), torch.ones(shape[0], dtype=torch.float64))


def test_hog_similarity_of_a_constant_map_is_nan():
    a = random_maps(32, (2, 16, 16))
    constant = torch.full_like(a, 1 / 256)
    assert torch.isnan(metrics.hog_similarity(a, constant)).all()


def test_mass_in_mask():
    maps = random_maps(10, (2, 6, 6))
    mask = torch.zeros(6, 6, dtype=torch.bool)
    mask[:3] = True
    expected = maps[:, :3].sum(dim=(1, 2)) / maps.sum(dim=(1, 2))
    assert torch.allclose(metrics.mass_in_mask(maps, mask), expected)
    per_image = torch.stack([mask, ~mask])
    got = metrics.mass_in_mask(maps, per_image)
    assert torch.allclose(got[1], 1 - expected[1])


def test_metrics_accept_a_single_map():
    a, b = random_maps(11, (5, 5)), random_maps(12, (5, 5))
    assert metrics.spearman(a, b).shape == (1,)


def test_bad_input():
    a = random_maps(13, (2, 6, 6))
    with pytest.raises(InputError, match=r"same shape.*\(2, 6, 6\).*\(2, 5, 6\)"):
        metrics.spearman(a, a[:, :5])
    for k in (0, 37, 2.5):
        with pytest.raises(ConfigError, match="k"):
            metrics.top_k_intersection(a, a, k)
    with pytest.raises(InputError, match=r"\(N,H,W\)"):
        metrics.center_of_mass(torch.zeros(6))
    with pytest.raises(InputError, match="masks must have shape"):
        metrics.mass_in_mask(a, torch.ones(5, 5, dtype=torch.bool))
    with pytest.raises(FragilityError, match="torch.Tensor"):
        metrics.pearson([[1.0]], a)
    with pytest.raises(InputError, match="non-negative"):
        metrics.ssim(-a, a)
    with pytest.raises(InputError, match="non-negative"):
        metrics.hog_similarity(a, -a)
    with pytest.raises(InputError, match="same shape"):
        metrics.spearman_signed(torch.zeros(2, 3, 6, 6), a[:, :5])
