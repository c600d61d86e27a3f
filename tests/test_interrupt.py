"""A computation asked to stop from another thread ends at the model's next call."""

import threading
import time

import pytest
import torch
from torch import nn

import fragility as fg
from nets import make_cnn


class Slow(nn.Module):
    """A CNN whose every forward pass takes `seconds`."""

    def __init__(self, seconds):
        super().__init__()
        self.net, self.seconds, self.calls = make_cnn(), seconds, 0

    def forward(self, x):
        self.calls += 1
        time.sleep(self.seconds)
        return self.net(x)


def test_a_stop_from_another_thread_ends_a_step_at_the_next_model_call():
    model, stop = Slow(0.05), threading.Event()
    threading.Timer(0.3, stop.set).start()
    with pytest.raises(fg.Interrupted, match="asked to stop"), \
            fg.interruptible(lambda: "asked to stop" if stop.is_set() else None):
        fg.attack(model, torch.rand(1, 3, 16, 16, dtype=torch.float64), steps=10_000)
    calls_at_stop = model.calls
    assert calls_at_stop >= 2
    # the callback never saw the request: the attack was ended inside a step


def test_nothing_is_checked_outside_the_block_or_in_other_threads():
    model = fg.wrap_model(make_cnn(), input_size=16)
    images = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    with fg.interruptible(lambda: "stop"):
        with pytest.raises(fg.Interrupted):
            model(images)
        seen = []
        worker = threading.Thread(target=lambda: seen.append(model(images).shape))
        worker.start()
        worker.join()
        assert seen == [(1, 5)]
    assert model(images).shape == (1, 5)


def test_blocks_nest_and_restore_the_outer_reason():
    model = fg.wrap_model(make_cnn(), input_size=16)
    images = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    with fg.interruptible(lambda: "outer"):
        with fg.interruptible(lambda: None):
            model(images)
        with pytest.raises(fg.Interrupted, match="outer"):
            model(images)
