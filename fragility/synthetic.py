"""The generated dataset the bundled model is trained on: shapes on cluttered backgrounds.

Each image holds one object of a known class (its pixels are the mask) at a random
colour, scale, rotation and position, drawn over smooth colour noise, stripes and
distractor sticks that belong to no class, so that a saliency map has somewhere wrong
to go. Rendering is vectorised: every shape is an implicit function on a coordinate grid.
All randomness comes from a `torch.Generator` seeded by `seed`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .validation import check_number

CLASS_NAMES = ("disc", "ring", "square", "triangle", "star", "cross", "arrow", "crescent",
               "heart", "hourglass")

# Images are rendered in chunks so that intermediate (chunk, H, W) tensors stay small.
_CHUNK = 1024


def _inside(name: str, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Whether object coordinates (u, v) lie in shape `name`; shapes fit the unit disc."""
    r = torch.sqrt(u * u + v * v)
    if name == "disc":
        return r <= 0.9
    if name == "ring":
        return (r <= 0.95) & (r >= 0.55)
    if name == "square":
        return torch.maximum(u.abs(), v.abs()) <= 0.68
    if name == "triangle":
        inside = torch.ones_like(u, dtype=torch.bool)
        for angle in (math.pi / 2, math.pi / 2 + 2 * math.pi / 3, math.pi / 2 + 4 * math.pi / 3):
            inside &= u * math.cos(angle) + v * math.sin(angle) <= 0.48
        return inside
    if name == "star":
        phase = torch.remainder(torch.atan2(v, u) * 5 / (2 * math.pi), 1.0)
        spike = 1 - 2 * (phase - 0.5).abs()  # 1 at a point of the star, 0 between points
        return r <= 0.38 + 0.6 * spike
    if name == "cross":
        return ((u.abs() <= 0.28) & (v.abs() <= 0.9)) | ((v.abs() <= 0.28) & (u.abs() <= 0.9))
    if name == "arrow":
        shaft = (u >= -0.9) & (u <= 0.1) & (v.abs() <= 0.2)
        head = (u >= 0.1) & (v.abs() <= 0.65 * (0.9 - u) / 0.8)
        return shaft | head
    if name == "crescent":
        return (r <= 0.9) & ((u - 0.45) ** 2 + v * v > 0.7 ** 2)
    if name == "heart":
        x, y = u * 1.2, -v * 1.2 + 0.15  # the classic implicit heart, y pointing up
        return (x * x + y * y - 1) ** 3 - x * x * y ** 3 <= 0
    if name == "hourglass":
        return (u.abs() <= v.abs()) & (v.abs() <= 0.85)
    raise ValueError(name)


def _uniform(gen: torch.Generator, n: int, low: float, high: float, *shape: int) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, *shape, generator=gen)


def _background(gen: torch.Generator, n: int, size: int, xs: torch.Tensor, ys: torch.Tensor
                ) -> torch.Tensor:
    """Smooth colour noise, plus stripes at a random angle and frequency, plus grain."""
    coarse = torch.rand(n, 3, 6, 6, generator=gen)
    image = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    base = torch.rand(n, 3, 1, 1, generator=gen)
    image = 0.5 * base + 0.5 * image
    angle = _uniform(gen, n, 0, math.pi).view(n, 1, 1)
    frequency = _uniform(gen, n, 0.15, 0.6).view(n, 1, 1)
    phase = _uniform(gen, n, 0, 2 * math.pi).view(n, 1, 1)
    stripes = torch.sin(frequency * (xs * torch.cos(angle) + ys * torch.sin(angle)) + phase)
    strength = _uniform(gen, n, 0.0, 0.25).view(n, 1, 1, 1)
    stripe_colour = torch.rand(n, 3, 1, 1, generator=gen) - 0.5
    image = image + strength * stripes.unsqueeze(1) * stripe_colour * 2
    image = image + 0.04 * torch.randn(n, 3, size, size, generator=gen)
    return image.clamp(0, 1)


def _paint_sticks(gen: torch.Generator, image: torch.Tensor, size: int, xs: torch.Tensor,
                  ys: torch.Tensor, count: int = 3) -> None:
    """Distractors: thin rotated ellipses (aspect 3-6), a shape no class has."""
    n = image.shape[0]
    for _ in range(count):
        cx = _uniform(gen, n, 0, size).view(n, 1, 1)
        cy = _uniform(gen, n, 0, size).view(n, 1, 1)
        length = _uniform(gen, n, 0.1 * size, 0.25 * size).view(n, 1, 1)
        width = length / _uniform(gen, n, 3, 6).view(n, 1, 1)
        angle = _uniform(gen, n, 0, math.pi).view(n, 1, 1)
        colour = torch.rand(n, 3, 1, 1, generator=gen)
        present = (torch.rand(n, generator=gen) < 0.8).view(n, 1, 1)
        dx, dy = xs - cx, ys - cy
        along = dx * torch.cos(angle) + dy * torch.sin(angle)
        across = -dx * torch.sin(angle) + dy * torch.cos(angle)
        stick = ((along / length) ** 2 + (across / width) ** 2 <= 1) & present
        image.copy_(torch.where(stick.unsqueeze(1), colour, image))


def _object_colour(gen: torch.Generator, background: torch.Tensor) -> torch.Tensor:
    """Random colours, each the farthest of four candidates from the background's mean."""
    n = background.shape[0]
    candidates = torch.rand(n, 4, 3, generator=gen)
    mean = background.mean(dim=(2, 3)).unsqueeze(1)
    best = (candidates - mean).norm(dim=2).argmax(dim=1)
    return candidates[torch.arange(n), best].view(n, 3, 1, 1)


def _render(gen: torch.Generator, labels: torch.Tensor, size: int
            ) -> tuple[torch.Tensor, torch.Tensor]:
    n = labels.shape[0]
    grid = torch.arange(size, dtype=torch.float32) + 0.5
    ys, xs = torch.meshgrid(grid, grid, indexing="ij")
    image = _background(gen, n, size, xs, ys)
    _paint_sticks(gen, image, size, xs, ys)

    radius = _uniform(gen, n, 0.2 * size, 0.34 * size).view(n, 1, 1)
    margin = radius.view(n) * 0.95
    cx = (margin + torch.rand(n, generator=gen) * (size - 2 * margin)).view(n, 1, 1)
    cy = (margin + torch.rand(n, generator=gen) * (size - 2 * margin)).view(n, 1, 1)
    angle = _uniform(gen, n, 0, 2 * math.pi).view(n, 1, 1)
    dx, dy = (xs - cx) / radius, (ys - cy) / radius
    u = dx * torch.cos(angle) + dy * torch.sin(angle)
    v = -dx * torch.sin(angle) + dy * torch.cos(angle)
    masks = torch.zeros(n, size, size, dtype=torch.bool)
    for index, name in enumerate(CLASS_NAMES):
        chosen = labels == index
        if chosen.any():
            masks[chosen] = _inside(name, u[chosen], v[chosen])
    colour = _object_colour(gen, image)
    shading = 1 + 0.15 * (u * torch.cos(angle) - v).clamp(-1, 1).unsqueeze(1)  # a soft gradient
    image = torch.where(masks.unsqueeze(1), (colour * shading).clamp(0, 1), image)
    return image, masks


def make_dataset(n: int, seed: int, size: int = 64
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render `n` labelled images: (images (N,3,S,S) float32 in [0,1], labels (N,) long,
    masks (N,S,S) bool, True on the object). Classes are balanced; same seed, same data."""
    n = check_number(n, "n", low=1, integer=True)
    seed = check_number(seed, "seed", low=0, integer=True)
    size = check_number(size, "size", low=32, high=1024, integer=True)
    gen = torch.Generator().manual_seed(seed)
    labels = (torch.arange(n) % len(CLASS_NAMES))[torch.randperm(n, generator=gen)]
    images = torch.empty(n, 3, size, size)
    masks = torch.empty(n, size, size, dtype=torch.bool)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        images[start:stop], masks[start:stop] = _render(gen, labels[start:stop], size)
    return images, labels, masks
