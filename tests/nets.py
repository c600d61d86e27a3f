"""Tiny seeded ReLU networks shared by the tests (float64 for tight reference checks)."""

import time

import torch
import torch.nn.functional as F
from torch import nn


def make_cnn(seed: int = 0, classes: int = 5, dtype=torch.float64) -> nn.Sequential:
    """A small ReLU CNN with nn.ReLU modules (conv, relu, conv, relu, pool, linear)."""
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(),
        nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(8 * 16, classes),
    )
    return net.to(dtype).eval()


class SlowCNN(nn.Module):
    """make_cnn() whose every call takes 0.1 s: a long step, to stop inside (picklable)."""

    def __init__(self):
        super().__init__()
        self.net = make_cnn()

    def forward(self, x):
        time.sleep(0.1)
        return self.net(x)


class FunctionalCNN(nn.Module):
    """The same shape of network written with functional ReLU calls, in-place forms too."""

    def __init__(self, seed: int = 0, classes: int = 5):
        super().__init__()
        torch.manual_seed(seed)
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.conv3 = nn.Conv2d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 16, classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = self.conv3(x).relu_()
        x = F.adaptive_avg_pool2d(x, 4).flatten(1)
        return self.fc(x)
