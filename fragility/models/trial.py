"""A trial run of a TorchScript file in a child process, under a time budget.

A TorchScript file is code: loading it runs its `__setstate__`, calling it runs its
forward, and both run in C++ where no Python check can stop them. Before a server
loads such a file into its own process, `trial_run` loads it in a child process and
runs one probe batch forward and backward there. A child that has not finished within
the budget is killed, and one that dies (a crash in the file's code) is reported, so
the server never hangs or dies on the file's first use.

The child's answer is only whether it finished: nothing it prints is read, so the
file's code cannot put words into a message. What the model returns is judged
afterwards, in the server, by the probe (`fragility.models.model.probe`).
"""

from __future__ import annotations

import os
import subprocess
import sys

from ..errors import ModelError
from .custom import ModelFile

DEFAULT_SECONDS = 30.0


def trial_run(source: ModelFile, input_size: int, seconds: float = DEFAULT_SECONDS) -> None:
    """Load `source` and run one probe batch in a child process; ModelError if it overruns."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "fragility.models.trial", str(int(input_size))]
    try:
        finished = subprocess.run(command, input=source.data, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=seconds, env=environment,
                                  check=False)
    except subprocess.TimeoutExpired:
        raise ModelError(f"{source.name} did not finish loading and one probe batch of "
                         f"shape (2, 3, {input_size}, {input_size}) within {seconds:g} s, so "
                         "it was stopped; a model here must answer one batch well within "
                         "that time") from None
    if finished.returncode != 0:
        how = (f"signal {-finished.returncode}" if finished.returncode < 0
               else f"exit code {finished.returncode}")
        raise ModelError(f"{source.name} crashed the process that tried it ({how}); "
                         "it is refused")


def _child(input_size: int) -> None:
    """Load the TorchScript file on stdin and run a probe batch forward and backward."""
    import torch

    from .custom import load_torchscript
    from .model import probe

    torch.set_num_threads(1)
    try:
        model = load_torchscript(ModelFile("upload", sys.stdin.buffer.read()), torch.device("cpu"))
        model.input_size = input_size
        probe(model)
        images = torch.rand(2, 3, input_size, input_size, requires_grad=True)
        model(images).sum().backward()
    except Exception:  # judged in the parent; here only finishing counts
        pass


if __name__ == "__main__":
    _child(int(sys.argv[1]))
    sys.stdout.flush()
    os._exit(0)   # no interpreter teardown that the file's objects could hook into
