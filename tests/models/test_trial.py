"""TorchScript files are tried in a child process under a time budget before use."""

import sys

import pytest

import fragility as fg
import hostile
from fragility.models.trial import trial_run


def test_a_working_file_passes_and_a_hanging_one_is_stopped_in_time():
    trial_run(fg.ModelFile("fine.pt", hostile.torchscript(hostile.ThreeClasses())),
              input_size=32, seconds=60)
    with pytest.raises(fg.ModelError, match=r"forever\.pt did not finish loading and one probe "
                                            r"batch of shape \(2, 3, 32, 32\) within 6 s"):
        trial_run(fg.ModelFile("forever.pt", hostile.torchscript(hostile.Forever())),
                  input_size=32, seconds=6)


def test_a_child_that_dies_is_reported(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with pytest.raises(fg.ModelError, match=r"crash\.pt crashed the process that tried it "
                                            r"\(exit code 1\); it is refused"):
        trial_run(fg.ModelFile("crash.pt", b"anything"), input_size=32, seconds=10)
