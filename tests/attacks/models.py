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


class OnlyAt(torch.nn.Module):
    """Class 0 wins only within an L1 distance of 0.01 of `x0`: any +-eps draw flips it."""

    def __init__(self, x0):
        super().__init__()
        self.x0 = x0
        self.anchor = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x):
        distance = (x - self.x0).abs().flatten(1).sum(dim=1)
        return torch.stack([1 - 100 * distance + self.anchor, torch.zeros_like(distance)], dim=1)
