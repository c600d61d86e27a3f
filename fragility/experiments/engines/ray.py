"""The Ray engine: shards as Ray tasks, each worker building the model itself.

The driver reads the images and sends each shard's batch with the model's *description*
(name or file, weights file); a worker builds the model once per process (on its GPU when
the task was given one, else on the CPU) and returns the shard's rows, which the driver
writes as they arrive. A task whose worker dies is retried by Ray (MAX_RETRIES); its rows
are only ever written by the driver, once, when a try returns. This is the only module
that imports ray.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import ray

from ...errors import ConfigError
from ...models import load_model
from ..rows import run_shard
from . import ModelInfo

MAX_RETRIES = 3          # tries after a worker dies (an error raised by the attack is not retried)
IN_FLIGHT_PER_SLOT = 2   # shards queued per GPU (or CPU) so that no worker waits for the driver


class RayEngine:
    def __init__(self, model, weights=None, device=None, address: str | None = None):
        if not isinstance(model, str) and not hasattr(model, "__fspath__"):
            raise ConfigError("the ray engine builds the model in each worker: give it as a name "
                              "(bundled, resnet18, ...) or a file path, with weights= for a state dict, "
                              f"not a {type(model).__name__} object")
        self.spec = (str(model), None if weights is None else str(weights), device)
        self.started = _connect(address)
        try:
            self.gpus = int(ray.cluster_resources().get("GPU", 0))
            name, size, domain = ray.get(_describe.remote(self.spec))
        except BaseException:
            self.close()
            raise
        self._info = ModelInfo(name, size, domain)

    @property
    def info(self) -> ModelInfo:
        return self._info

    def run(self, shards, source, settings, on_rows: Callable, on_step: Callable | None = None) -> None:
        """Run `shards` as tasks; hand each one's rows to on_rows as it finishes (False: stop).

        Progress comes per shard: on_step is not called (workers do not stream steps)."""
        options = {"num_gpus": 1, "num_cpus": 1} if self.gpus else {"num_cpus": 1}
        task = _run_shard.options(max_retries=MAX_RETRIES, retry_exceptions=False, **options)
        slots = max(1, self.gpus or int(ray.cluster_resources().get("CPU", 1)))
        queue, running = iter(shards), {}
        try:
            self._fill(queue, running, task, source, settings, slots * IN_FLIGHT_PER_SLOT)
            while running:
                ready, _ = ray.wait(list(running), num_returns=1)
                shard = running.pop(ready[0])
                rows = ray.get(ready[0])
                if rows and on_rows(shard, rows) is False:
                    return
                self._fill(queue, running, task, source, settings, slots * IN_FLIGHT_PER_SLOT)
        finally:
            for reference in running:
                ray.cancel(reference, force=True)
            self.close()

    def _fill(self, queue, running: dict, task, source, settings, width: int) -> None:
        while len(running) < width:
            shard = next(queue, None)
            if shard is None:
                return
            batch = source.load(list(shard.image_ids))
            if batch.ids:
                running[task.remote(self.spec, settings, shard, batch)] = shard

    def close(self) -> None:
        """Shut down the local cluster this engine started (a cluster it joined stays up)."""
        if self.started and ray.is_initialized():
            ray.shutdown()
        self.started = False


def _connect(address: str | None) -> bool:
    """Join `address`, or the cluster this process is in, or start a local one on 127.0.0.1
    (no dashboard); True when this call started or joined it."""
    if ray.is_initialized():
        return False
    quiet = dict(logging_level=logging.WARNING, configure_logging=True)
    if address:
        ray.init(address=address, **quiet)
    else:
        ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, **quiet)
    return True


@functools.lru_cache(maxsize=2)
def _model(spec: tuple):
    """The model of `spec`, built once per worker process."""
    name, weights, device = spec
    return load_model(name, device=device, weights=weights)


@ray.remote
def _describe(spec: tuple) -> tuple:
    model = _model(spec)
    return spec[0], model.input_size, model.domain


@ray.remote
def _run_shard(spec: tuple, settings, shard, batch) -> list[dict]:
    return run_shard(_model(spec), settings, shard, batch)
