"""The paper's central claim on a small ReLU CNN trained here in seconds.

Ghorbani, Abid & Zou (2019): at eps = 8/255 the top-k attack removes far more of the
top-k features than random sign noise of the same size, with every label unchanged, and
the mass-center attack moves the saliency center further than random noise does.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fragility.attacks import attack

pytestmark = pytest.mark.slow

SIZE = 32
COLOURS = torch.tensor([[0.9, 0.15, 0.15], [0.15, 0.85, 0.15], [0.2, 0.3, 0.95]])


def blob_images(n, seed):
    """A coloured square (the class is its colour) at a random place on smooth grey noise."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(n, 1, SIZE // 4, SIZE // 4, generator=generator)
    images = 0.35 + 0.3 * F.interpolate(noise, size=SIZE, mode="bilinear", align_corners=False)
    images = images.expand(n, 3, SIZE, SIZE).clone()
    labels = torch.randint(0, 3, (n,), generator=generator)
    corners = torch.randint(2, SIZE - 12, (n, 2), generator=generator)
    sides = torch.randint(6, 11, (n,), generator=generator)
    rows = torch.arange(SIZE).reshape(1, SIZE, 1)
    cols = torch.arange(SIZE).reshape(1, 1, SIZE)
    inside = ((rows >= corners[:, 0, None, None]) & (rows < (corners[:, 0] + sides)[:, None, None])
              & (cols >= corners[:, 1, None, None]) & (cols < (corners[:, 1] + sides)[:, None, None]))
    colour = COLOURS[labels].reshape(n, 3, 1, 1)
    images = torch.where(inside.unsqueeze(1), colour, images)
    return images.clamp(0, 1), labels


def trained_cnn():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 3))
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    for step in range(150):
        images, labels = blob_images(64, seed=1000 + step)
        loss = F.cross_entropy(net(images), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return net.eval()


@pytest.fixture(scope="module")
def setting():
    net = trained_cnn()
    images, labels = blob_images(24, seed=7)
    with torch.no_grad():
        correct = net(images).argmax(dim=1) == labels
    assert correct.double().mean() > 0.9, "the tiny CNN failed to learn the easy task"
    return net, images[correct][:8]


def run(setting, name, **kwargs):
    net, images = setting
    return attack(net, images, method="gradient", attack=name, epsilon=8 / 255, k=50,
                  steps=40, step_size=1 / 255, **kwargs)


def test_top_k_attack_beats_random_sign(setting):
    targeted = run(setting, "top-k")
    random = run(setting, "random-sign")
    attacked = targeted.metrics["top_k_intersection"].mean().item()
    baseline = random.metrics["top_k_intersection"].mean().item()
    assert targeted.labels_kept.all()
    assert attacked < 0.25 * baseline, (attacked, baseline)
    assert targeted.metrics["spearman"].mean() < random.metrics["spearman"].mean()


def test_mass_center_attack_moves_the_center_further_than_random_sign(setting):
    moved = run(setting, "mass-center")
    random = run(setting, "random-sign")
    assert moved.labels_kept.all()
    shift = moved.metrics["center_shift"].mean().item()
    baseline = random.metrics["center_shift"].mean().item()
    assert shift > 3 * baseline and shift > 1.0, (shift, baseline)


def test_the_bundled_model_is_fragile_too():
    from fragility.models import load_model
    from fragility.synthetic import make_dataset

    model = load_model("bundled", device="cpu")
    images, labels, _ = make_dataset(4, seed=123)
    kwargs = {"method": "gradient", "epsilon": 8 / 255, "k": 100, "steps": 15, "step_size": 1 / 255}
    targeted = attack(model, images, attack="top-k", **kwargs)
    random = attack(model, images, attack="random-sign", **kwargs)
    assert torch.equal(targeted.labels, labels)   # the bundled model gets these right
    assert targeted.labels_kept.all()
    attacked = targeted.metrics["top_k_intersection"].mean().item()
    baseline = random.metrics["top_k_intersection"].mean().item()
    assert attacked < 0.5 * baseline, (attacked, baseline)
