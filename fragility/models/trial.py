"""A trial run of a TorchScript file in a child process, under a time budget.

A TorchScript file is code: loading it runs its `__setstate__`, calling it runs its
forward, and both run in C++ where no Python check can stop them. Before a server
loads such a file into its own process, `trial_run` loads it in a child process and
runs one probe batch forward and backward there. A child that has not finished within
the budget is killed, and one that dies (a crash in the file's code) is reported, so
the server never hangs or dies on the file's first use.

The budget starts when the child has imported torch and says it is ready (start-up on a
busy machine is not the file's fault). After that the child's answer is only whether
it finished: nothing it prints is read, so the file's code cannot put words into a
message. What the model returns is judged afterwards, in the server, by the probe
(`fragility.models.model.probe`).
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys

from ..errors import ModelError
from .custom import ModelFile

DEFAULT_SECONDS = 30.0
STARTUP_SECONDS = 120.0
READY = b"ready\n"


def trial_run(source: ModelFile, input_size: int, seconds: float = DEFAULT_SECONDS) -> None:
    """Load `source` and run one probe batch in a child process; ModelError if it overruns."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "fragility.models.trial", str(int(input_size))]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, env=environment)
    try:
        if _first_line(child, STARTUP_SECONDS) != READY:
            child.kill()
            raise _crashed(source, child.wait())
        try:
            child.stdin.write(source.data)
            child.stdin.close()
        except BrokenPipeError:
            pass
        code = child.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        raise ModelError(f"{source.name} did not finish loading and one probe batch of "
                         f"shape (2, 3, {input_size}, {input_size}) within {seconds:g} s, so "
                         "it was stopped; a model here must answer one batch well within "
                         "that time") from None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    if code != 0:
        raise _crashed(source, code)


def _first_line(child: subprocess.Popen, seconds: float) -> bytes:
    """The child's first line, or b"" if it says nothing within `seconds`."""
    with selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=seconds):
            return b""
    return child.stdout.readline(len(READY))


def _crashed(source: ModelFile, code: int) -> ModelError:
    how = f"signal {-code}" if code < 0 else f"exit code {code}"
    return ModelError(f"{source.name} crashed the process that tried it ({how}); it is refused")


def _child(input_size: int) -> None:
    """Load the TorchScript file on stdin and run a probe batch forward and backward."""
    import torch

    from .custom import load_torchscript
    from .model import probe

    torch.set_num_threads(1)
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    silent = os.open(os.devnull, os.O_WRONLY)    # nothing the file's code prints is read
    os.dup2(silent, 1)
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
    os._exit(0)   # no interpreter teardown that the file's objects could hook into
