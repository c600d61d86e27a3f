"""The Ray engine: shards as Ray tasks, each worker building the model itself.

The driver reads the images and sends each shard's batch with the model's *description*
(name or file, weights file); a worker builds the model once per process (on its GPU when
the task was given one, else on the CPU) and returns the shard's rows, which the driver
writes as they arrive. A task whose worker dies is retried by Ray (MAX_RETRIES); its rows
are only ever written by the driver, once, when a try returns. This is the only module
that imports ray, and only when a Ray engine is made.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable

from ...errors import ConfigError
from ...models import load_model
from ..rows import run_shard
from . import ModelInfo

MAX_RETRIES = 3          # tries after a worker dies (an error raised by the attack is not retried)
IN_FLIGHT_PER_SLOT = 2   # shards queued per GPU (or CPU) so that no worker waits for the driver
# Ray's switch for single-machine clusters (its default on Windows and macOS): every process
# listens on 127.0.0.1 only. Set for a local cluster and for one on a loopback address; a
# multi-node cluster needs the machine's reachable address, so it is left alone there.
SINGLE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class RayEngine:
    def __init__(self, model, weights=None, device=None, address: str | None = None):
        if not isinstance(model, str) and not hasattr(model, "__fspath__"):
            raise ConfigError("the ray engine builds the model in each worker: give it as a name "
                              "(bundled, resnet18, ...) or a file path, with weights= for a state dict, "
                              f"not a {type(model).__name__} object")
        self.spec = (str(model), None if weights is None else str(weights), device)
        self.ray = _import_ray(single_machine=not address or address.rpartition(":")[0] in LOOPBACK)
        self.started = _connect(self.ray, address)
        try:
            self.gpus = int(self.ray.cluster_resources().get("GPU", 0))
            name, size, domain = self.ray.get(self.ray.remote(_describe).remote(self.spec))
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
        ray = self.ray
        options = {"num_gpus": 1, "num_cpus": 1} if self.gpus else {"num_cpus": 1}
        task = ray.remote(_run_shard).options(max_retries=MAX_RETRIES, retry_exceptions=False, **options)
        width = max(1, self.gpus or int(ray.cluster_resources().get("CPU", 1))) * IN_FLIGHT_PER_SLOT
        queue, running = iter(shards), {}
        try:
            self._fill(queue, running, task, source, settings, width)
            while running:
                ready, _ = ray.wait(list(running), num_returns=1)
                shard = running.pop(ready[0])
                rows = ray.get(ready[0])
                if rows and on_rows(shard, rows) is False:
                    return
                self._fill(queue, running, task, source, settings, width)
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
        """Leave the cluster this engine joined or started (one it started stops with it)."""
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()
        self.started = False


def _import_ray(single_machine: bool):
    if single_machine:
        os.environ.setdefault(SINGLE_MACHINE, "0")   # read once, when ray is first imported
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray engine needs Ray: pip install 'fragility[cluster]'") from None
    return ray


def _connect(ray, address: str | None) -> bool:
    """Join `address` ("auto": the cluster `ray start` started on this machine, or RAY_ADDRESS),
    or use the cluster this process has joined, or start a new local one on 127.0.0.1 (no
    dashboard); True when this call started or joined one."""
    if ray.is_initialized():
        return False
    quiet = dict(logging_level=logging.WARNING, configure_logging=True)
    if address:
        ray.init(address=address, **quiet)
    else:   # "local": never a cluster found through RAY_ADDRESS or a file another run left
        ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False, **quiet)
    return True


@functools.lru_cache(maxsize=2)
def _model(spec: tuple):
    """The model of `spec`, built once per worker process."""
    name, weights, device = spec
    return load_model(name, device=device, weights=weights)


def _describe(spec: tuple) -> tuple:
    model = _model(spec)
    return spec[0], model.input_size, model.domain


def _run_shard(spec: tuple, settings, shard, batch) -> list[dict]:
    return run_shard(_model(spec), settings, shard, batch)
