"""The local engine: shards one after another in this process, on the model's device."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ...models import load_model
from ...models.model import as_model
from ..rows import run_shard
from . import ModelInfo


class LocalEngine:
    def __init__(self, model, weights=None, device=None):
        if isinstance(model, torch.nn.Module):
            self.model = as_model(model)
            self.name = self.model.name
        else:
            self.model = load_model(model, device=device, weights=weights)
            self.name = str(model)

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(self.name, self.model.input_size, self.model.domain)

    def run(self, shards, source, settings, on_rows: Callable, on_step: Callable | None = None) -> None:
        """Run `shards` in order; on_step(shard, step) after every attack step (False: stop)."""
        for shard in shards:
            batch = source.load(list(shard.image_ids))
            if not batch.ids:
                continue
            callback = None if on_step is None else (lambda step, row, shard=shard: on_step(shard, step))
            rows = run_shard(self.model, settings, shard, batch, callback)
            if rows is None or on_rows(shard, rows) is False:
                return

    def close(self) -> None:
        """Nothing to release: the model stays with its owner."""
