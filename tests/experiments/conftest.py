"""A tiny TorchScript model file: a model spec that sweeps (and Ray workers) can load."""

from __future__ import annotations

import os
import warnings

import pytest
import torch

from nets import make_cnn

# Ray clusters of these tests listen on 127.0.0.1 only (Ray's single-machine mode; read when
# ray is first imported, so set before any test module imports it).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread, as each Ray worker uses: on shared cores (other tests, xdist
    workers) two threads per process stall each other's OpenMP barriers (a sweep here took
    74 s with two threads and 2.3 s with one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def model_file(tmp_path):
    """The tiny float32 CNN of tests/nets.py as TorchScript: a model spec workers can load."""
    path = tmp_path / "tiny.pt"
    with warnings.catch_warnings():   # TorchScript is deprecated upstream but still a supported input
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.trace(make_cnn().float(), torch.rand(1, 3, 32, 32)).save(str(path))
    return path
