"""Shared fixtures: tiny seeded ReLU networks, in float64 for tight reference checks."""

import pytest
import torch

from nets import FunctionalCNN, make_cnn


@pytest.fixture
def cnn():
    return make_cnn()


@pytest.fixture
def functional_cnn():
    return FunctionalCNN().double().eval()


@pytest.fixture
def images():
    torch.manual_seed(1)
    return torch.rand(3, 3, 16, 16, dtype=torch.float64)
