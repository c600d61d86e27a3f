"""What the measurement scripts run on: the bundled model and evenly spaced generated samples."""

from __future__ import annotations

import torch

import fragility as fg


def bundled_and_samples(count: int):
    """The bundled model on the CPU (one intra-op thread) and `count` of its generated samples."""
    torch.set_num_threads(1)
    model = fg.load_model("bundled", device="cpu")
    samples = fg.samples("synthetic")
    samples = samples[::max(1, len(samples) // count)][:count]
    return model, torch.stack([sample.load(size=model.input_size) for sample in samples])
