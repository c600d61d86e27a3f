"""Hand-made models whose gradients are known in closed form, for the attack tests."""

import torch
from torch import nn


class Quadratic(nn.Module):
    """logits = [s(x), threshold] with s(x) = ||x||^2 / 2 (no ReLU: the surrogate is exact).

    The gradient of class 0 is x itself, so for positive images the simple-gradient map is
    the per-pixel channel sum of x, normalised. Class 0 is predicted while s(x) > threshold.
    """

    def __init__(self, threshold: float = -1.0):
        super().__init__()
        self.threshold = threshold
        self.anchor = nn.Parameter(torch.zeros((), dtype=torch.float64))  # sets dtype/device

    def forward(self, x):
        s = 0.5 * (x ** 2).flatten(1).sum(dim=1) + self.anchor
        return torch.stack([s, torch.full_like(s, self.threshold)], dim=1)


def positive_images(n=2, size=6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return 0.4 + 0.2 * torch.rand(n, 3, size, size, generator=generator, dtype=torch.float64)


class Pinned(torch.nn.Module):
    """Class 0 wins at `x0` itself and nowhere an L1 step of 1e-3 away: every perturbation
    flips the label. Its class-0 score is ||x||^2/2 - 100 ||x - x0||_1 (+ constants), so at
    x0 the simple-gradient map is x0 itself (not constant: an attack has a direction)."""

    def __init__(self, x0):
        super().__init__()
        self.x0 = x0
        self.anchor = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x):
        score = (0.5 * (x ** 2 - self.x0 ** 2) - 100 * (x - self.x0).abs()).flatten(1).sum(dim=1)
        score = score + 0.01 + self.anchor
        return torch.stack([score, torch.zeros_like(score)], dim=1)
