"""How many network points (images x a method's points per image) one attack pass takes.

An attack step is a double backprop through the method's surrogate; its working set grows
with the points in the pass. The budget fits the device:

- CUDA: the free memory (a share of it, `CUDA_SHARE`) over the measured cost of one point:
  the peak memory of one probe step on one image. A large GPU takes thousands of points per
  pass; a fixed small budget leaves it mostly idle.
- CPU: `CPU_BYTES` over the bytes autograd keeps per point in the same probe step. Larger
  passes do not run faster on a CPU once the working set leaves its caches, so the budget
  is a working-set size, not the free memory.

The probe runs once per (model, method, options, image size, dtype) and is cached with the
model. `fragility.attacks.setting.POINTS_PER_PASS`, when set, overrides both.
"""

from __future__ import annotations

import threading
import weakref

import torch

from ..explainers import Method, saliency_map
from ..explainers._core import gradient

# CPU: bytes of kept autograd state per pass. Chosen with benchmarks/bench_attack_step.py
# on 2 CPU threads: the bundled 64px net keeps about 6.5 MB per gradient point, and a step
# at batch 16 (IG, M=8) took 0.88-1.06 s at 24-32 points per pass, 1.0-1.07 s at 48-64 and
# 1.4 s unsplit (128 points): 256 MiB is about 32 points of it, the smallest budget on the
# flat part. A 224px squeezenet1_1 keeps about 71 MB per point, so it gets 3 per pass.
CPU_BYTES = 256 * 2**20
# CUDA: the share of the free memory one pass may use (the rest: the tracker's copies of the
# batch, the allocator's fragmentation, other work on the card).
CUDA_SHARE = 0.5
# Never more points than this in one pass, whatever the device says.
MAX_POINTS = 65_536

_costs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # model -> {key: bytes per point}
_lock = threading.Lock()


def points_per_pass(model: torch.nn.Module, method: Method, options: dict, images: torch.Tensor) -> int:
    """The number of network points one pass of an attack step may take on `images`' device."""
    cost = point_cost(model, method, options, images)
    if images.device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(images.device)
        return budget(free * CUDA_SHARE, cost)
    return budget(CPU_BYTES, cost)


def budget(available_bytes: float, bytes_per_point: float) -> int:
    """Whole points that fit in `available_bytes`: at least 1, at most MAX_POINTS."""
    return int(min(max(available_bytes // max(bytes_per_point, 1.0), 1), MAX_POINTS))


def point_cost(model: torch.nn.Module, method: Method, options: dict, images: torch.Tensor) -> float:
    """Bytes one network point costs in an attack step, probed once and cached."""
    key = (method.name, repr(sorted(options.items())), tuple(images.shape[1:]), images.dtype,
           str(images.device))
    with _lock:
        known = _costs.setdefault(model, {})
        if key in known:
            return known[key]
    cost = _probe(model, method, options, images[:1]) / method.points(options)
    with _lock:
        known[key] = cost
    return cost


def _probe(model: torch.nn.Module, method: Method, options: dict, image: torch.Tensor) -> float:
    """Bytes of one attack step on one image: peak allocation on CUDA, kept state on the CPU."""
    if image.device.type == "cuda":
        torch.cuda.synchronize(image.device)
        before = torch.cuda.memory_allocated(image.device)
        torch.cuda.reset_peak_memory_stats(image.device)
        _step(model, method, options, image)
        torch.cuda.synchronize(image.device)
        return float(torch.cuda.max_memory_allocated(image.device) - before)
    storages: dict[int, int] = {}

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        _step(model, method, options, image)
    return float(sum(storages.values()))


def _step(model: torch.nn.Module, method: Method, options: dict, image: torch.Tensor) -> None:
    """One attack step's double backprop: the gradient of a map's dissimilarity w.r.t. x."""
    x = image.detach().requires_grad_(True)
    explanation = method.differentiable(model, x, None, 10.0, **options)
    gradient(saliency_map(explanation.attributions).square().sum(), x)
