"""Shared fixtures: tiny seeded ReLU networks, in float64 for tight reference checks.

`make test` runs the suite on several pytest-xdist workers (`--dist loadgroup`): the tests
that share one expensive thing (a dashboard server and Chromium, an installed wheel) are
kept on one worker by an `xdist_group`, and each worker computes with its share of the cores.
"""

import os

import pytest
import torch

from nets import FunctionalCNN, make_cnn


def pytest_configure(config):
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        # Workers with all the cores each would oversubscribe them and stall at OpenMP barriers.
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // workers))


def pytest_collection_modifyitems(items):
    for item in items:   # one dashboard server and one Chromium for every browser test
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))


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
