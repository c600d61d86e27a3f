"""How different two saliency maps are: batched over (N,H,W) maps, one value per image.

Every function takes torch tensors of maps (a single (H,W) map counts as a batch of one)
and returns an (N,) tensor (center_of_mass: (N,2)), on the maps' device. The definitions
follow Ghorbani, Abid & Zou (2019): rank correlation, top-k intersection and the shift of
the center of mass, plus Pearson correlation, SSIM (Wang et al., 2004), the share of
the map inside an object mask, and the two further similarities of Adebayo et al.'s sanity
checks (2018): rank correlation of signed attributions and HOG similarity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import InputError
from .validation import check_number

__all__ = ["center_of_mass", "center_shift", "hog_similarity", "mass_in_mask", "pearson",
           "spearman", "spearman_signed", "ssim", "top_k_intersection"]

# SSIM constants of Wang et al. (2004): Gaussian window sigma 1.5 truncated at 11x11.
SSIM_SIGMA = 1.5
SSIM_RADIUS = 5
SSIM_K1, SSIM_K2 = 0.01, 0.03
# HOG of Adebayo et al.: scikit-image's defaults (9 orientations, 3x3-cell blocks, L2-Hys)
# with 16-pixel cells on 299-pixel maps, about 19 cells a side; here the cell size is
# chosen per map size to give HOG_CELLS cells a side.
HOG_CELLS = 16


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation of each pair of maps; ties get average ranks (as scipy).

    NaN where a map is constant (its ranks have no variance), as scipy.stats.spearmanr.
    """
    a, b = _pair(a, b)
    return correlation(average_ranks(a.flatten(1)), average_ranks(b.flatten(1)))


def spearman_signed(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation of signed attributions, without absolute values.

    Takes raw attributions (N,C,H,W), summed over channels as in Adebayo et al.'s code
    (their "rank correlation, no abs"), or signed maps (N,H,W). Where `spearman` on
    saliency maps asks whether the same pixels matter, this also asks whether they push
    the class score the same way. NaN where a map is constant.
    """
    return spearman(_signed(a, "a"), _signed(b, "b"))


def pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each pair of maps (NaN where a map is constant)."""
    a, b = _pair(a, b)
    return correlation(a.flatten(1), b.flatten(1))


def top_k_intersection(a: torch.Tensor, b: torch.Tensor, k: int) -> torch.Tensor:
    """Fraction of the k most important features of `a` that are among the k of `b`."""
    a, b = _pair(a, b)
    k = check_k(k, a.shape[-2] * a.shape[-1])
    return (top_k_mask(a, k) & top_k_mask(b, k)).flatten(1).sum(dim=1).to(a.dtype) / k


def center_of_mass(maps: torch.Tensor) -> torch.Tensor:
    """(N,2) center of mass (row, col) of each map, in pixels (as scipy.ndimage)."""
    maps = _maps(maps, "maps")
    height, width = maps.shape[-2:]
    rows = torch.arange(height, dtype=maps.dtype, device=maps.device)
    cols = torch.arange(width, dtype=maps.dtype, device=maps.device)
    total = maps.sum(dim=(1, 2))
    row = (maps.sum(dim=2) * rows).sum(dim=1) / total
    col = (maps.sum(dim=1) * cols).sum(dim=1) / total
    return torch.stack([row, col], dim=1)


def center_shift(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance in pixels (L2) between the centers of mass of each pair of maps."""
    a, b = _pair(a, b)
    return torch.linalg.vector_norm(center_of_mass(a) - center_of_mass(b), dim=1)


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean structural similarity (Wang et al., 2004) of each pair of maps.

    Each map is first scaled to peak 1 (maps are non-negative), so SSIM compares shapes on
    the data range [0,1]. Gaussian window sigma 1.5, 11x11 (smaller on maps under 11
    pixels), population covariances, averaged over the positions where the window fits
    inside the map; equal to skimage's structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=1).
    """
    a, b = _pair(a, b)
    if bool((a < 0).any()) or bool((b < 0).any()):
        raise InputError("ssim needs non-negative maps (saliency maps are |attribution| sums)")
    a, b = _peak_one(a).unsqueeze(1), _peak_one(b).unsqueeze(1)
    radius = min(SSIM_RADIUS, (min(a.shape[-2:]) - 1) // 2)
    offsets = torch.arange(-radius, radius + 1, dtype=a.dtype, device=a.device)
    kernel = torch.exp(-0.5 * (offsets / SSIM_SIGMA) ** 2)
    kernel = kernel / kernel.sum()

    def blur(x):  # separable Gaussian filter, only where the window fits ("valid")
        x = F.conv2d(x, kernel.reshape(1, 1, -1, 1))
        return F.conv2d(x, kernel.reshape(1, 1, 1, -1))

    mean_a, mean_b = blur(a), blur(b)
    var_a = blur(a * a) - mean_a ** 2
    var_b = blur(b * b) - mean_b ** 2
    cov = blur(a * b) - mean_a * mean_b
    c1, c2 = SSIM_K1 ** 2, SSIM_K2 ** 2
    index = ((2 * mean_a * mean_b + c1) * (2 * cov + c2)) / (
        (mean_a ** 2 + mean_b ** 2 + c1) * (var_a + var_b + c2))
    return index.mean(dim=(1, 2, 3))


def hog_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of the histograms of oriented gradients of each pair of maps.

    Adebayo et al. (2018) compare maps by their HOG features, which describe edges and
    their directions regardless of small shifts. Each map is scaled to peak 1 (maps are
    non-negative), then `skimage.feature.hog` (9 orientations, 3x3-cell blocks, L2-Hys)
    with cells of round(side / 16) pixels. The paper speaks of the Pearson correlation of
    the features, used here; their notebook computed a rank correlation instead. NaN where
    a map's features are constant (e.g. a constant map). Runs on the CPU, one map at a time.
    """
    from skimage.feature import hog

    a, b = _pair(a, b)
    if bool((a < 0).any()) or bool((b < 0).any()):
        raise InputError("hog_similarity needs non-negative maps (saliency maps are |attribution| sums)")
    height, width = a.shape[-2:]
    cell = max(1, round(min(height, width) / HOG_CELLS))
    blocks = min(3, height // cell, width // cell)

    def features(maps: torch.Tensor) -> torch.Tensor:
        arrays = _peak_one(maps).detach().cpu().double().numpy()
        return torch.stack([torch.from_numpy(hog(array, orientations=9, pixels_per_cell=(cell, cell),
                                                 cells_per_block=(blocks, blocks), block_norm="L2-Hys"))
                            for array in arrays])

    return correlation(features(a), features(b)).to(device=a.device, dtype=a.dtype)


def mass_in_mask(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Share of each map's total mass that lies inside its mask ((H,W) or (N,H,W) bool)."""
    maps = _maps(maps, "maps")
    masks = expand_mask(masks, maps.shape, "masks")
    return (maps * masks).sum(dim=(1, 2)) / maps.sum(dim=(1, 2))


# Helpers shared with the attacks (which precompute the original map's ranks and top-k).

def average_ranks(values: torch.Tensor) -> torch.Tensor:
    """Ranks (1..D) along the last dim of (N,D) values; tied values share their mean rank.

    One sort, then each run of equal sorted values gets the mean of its first and last
    position (found with running max/min, so there is no per-group Python loop).
    """
    ordered, order = values.sort(dim=1)
    count = values.shape[1]
    positions = torch.arange(count, device=values.device).expand_as(ordered)
    starts = torch.ones_like(ordered, dtype=torch.bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ends = torch.ones_like(starts)
    ends[:, :-1] = starts[:, 1:]
    first = torch.where(starts, positions, 0).cummax(dim=1).values
    last = torch.where(ends, positions, count - 1).flip(1).cummin(dim=1).values.flip(1)
    sorted_ranks = (first + last + 2).to(values.dtype) / 2
    return torch.empty_like(sorted_ranks).scatter_(1, order, sorted_ranks)


def top_k_mask(maps: torch.Tensor, k: int) -> torch.Tensor:
    """(N,H,W) bool: the k largest features of each map."""
    flat = maps.flatten(1)
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask.scatter_(1, flat.topk(k, dim=1).indices, True)
    return mask.reshape(maps.shape)


def check_k(k: object, features: int) -> int:
    """k as an int in [1, features], else ConfigError."""
    return check_number(k, "k (number of top features)", low=1, high=features, integer=True)


def expand_mask(mask: object, shape: torch.Size, name: str, error: type = InputError) -> torch.Tensor:
    """A (H,W) or (N,H,W) mask as (N,H,W) bool matching maps of `shape`, else `error`."""
    try:
        mask = torch.as_tensor(mask)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise error(f"{name} must be a boolean array of shape (H,W) or (N,H,W): {exc}") from None
    if mask.dim() == 2:
        mask = mask.unsqueeze(0)
    if mask.dim() != 3 or tuple(mask.shape[1:]) != tuple(shape[1:]) or mask.shape[0] not in (1, shape[0]):
        raise error(f"{name} must have shape (H,W) = {tuple(shape[1:])} or (N,H,W) = "
                         f"{tuple(shape)}, got {tuple(mask.shape)}")
    return mask.to(dtype=torch.bool).expand(shape)


def correlation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pearson correlation along the last dim of (N,D) tensors."""
    x = x - x.mean(dim=1, keepdim=True)
    y = y - y.mean(dim=1, keepdim=True)
    return (x * y).sum(dim=1) / torch.sqrt((x * x).sum(dim=1) * (y * y).sum(dim=1))


def _peak_one(maps: torch.Tensor) -> torch.Tensor:
    peak = maps.amax(dim=(1, 2), keepdim=True)
    return torch.where(peak > 0, maps / peak.clamp_min(torch.finfo(maps.dtype).tiny), maps)


def _maps(maps: object, name: str) -> torch.Tensor:
    if not isinstance(maps, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor of maps (N,H,W), got {type(maps).__name__}")
    if maps.dim() == 2:
        maps = maps.unsqueeze(0)
    if maps.dim() != 3 or maps.shape[0] == 0 or maps.numel() == 0:
        raise InputError(f"{name} must have shape (N,H,W) or (H,W), got {tuple(maps.shape)}")
    if not maps.is_floating_point():
        maps = maps.double()
    return maps


def _signed(values: object, name: str) -> torch.Tensor:
    """(N,C,H,W) attributions summed over channels, or (N,H,W) / (H,W) signed maps as they are."""
    if isinstance(values, torch.Tensor) and values.dim() == 4:
        values = values.sum(dim=1)
    return _maps(values, name)


def _pair(a: object, b: object) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = _maps(a, "a"), _maps(b, "b")
    if a.shape != b.shape:
        raise InputError(f"maps must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return a, b.to(a.dtype)
