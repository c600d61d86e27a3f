"""Sweep throughput in image-steps per second, measured in one run (not a test).

An image-step is one attack step on one image (rows x steps). The local engine runs at
several batch sizes (images per attack call; each call's passes are sized to the device by
fragility.attacks.budget) on the CPU, and on the GPU when there is one; --ray adds the Ray
engine with 2 CPU workers on a local cluster (its start-up is not counted). The ratio to
batch size 1 in the same run is the number to read on a shared machine.

    python benchmarks/bench_sweep.py [--images 32] [--steps 20] [--batch-sizes 1,4,16,32] [--ray]
                                     [--threads N]
"""

from __future__ import annotations

import argparse
import os
import logging
import time
import warnings

import torch

import fragility as fg
from fragility.attacks import budget
from fragility.explainers import get_method

GRID = dict(methods=["gradient"], attacks=["top-k"], epsilons=[8 / 255], step_size=1 / 255)


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def image_steps_per_second(images: int, steps: int, **options) -> float:
    synchronize(options.get("device") or "cpu")
    start = time.perf_counter()
    rows = fg.sweep("bundled", f"synthetic:{images}", steps=steps, **GRID, **options)
    synchronize(options.get("device") or "cpu")
    return len(rows) * steps / (time.perf_counter() - start)


def points_per_pass(device: str) -> int:
    model = fg.load_model("bundled", device=device)
    method = get_method("gradient")
    return budget.points_per_pass(model, method, method.options, torch.rand(1, 3, 64, 64, device=device))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-sizes", default="1,4,16,32")
    parser.add_argument("--ray", action="store_true", help="also the Ray engine with 2 CPU workers")
    parser.add_argument("--threads", type=int, help="intra-op CPU threads of the local engine (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    batch_sizes = [int(size) for size in args.batch_sizes.split(",")]
    warnings.simplefilter("ignore")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; bundled 64px, gradient, "
          f"top-k, {args.images} images x {args.steps} steps per measurement", flush=True)
    for device in devices:
        name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
        print(f"{name}: {points_per_pass(device)} network points per pass (fragility.attacks.budget)",
              flush=True)
        image_steps_per_second(min(args.images, 4), 2, batch_size=4, device=device)   # warm-up
        first = None
        for size in batch_sizes:
            rate = image_steps_per_second(args.images, args.steps, batch_size=size, device=device)
            first = first or rate
            print(f"  local {device:4s} batch {size:4d}: {rate:8.1f} image-steps/s  "
                  f"({rate / first:4.2f} x batch {batch_sizes[0]})", flush=True)
    if args.ray:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")   # the cluster on 127.0.0.1 only
        import ray

        ray.init(address="local", num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False,
                 logging_level=logging.WARNING)
        try:
            size = batch_sizes[-1] if len(batch_sizes) == 1 else max(1, args.images // 4)
            image_steps_per_second(4, 2, batch_size=2, engine="ray")   # workers start and load the model
            rate = image_steps_per_second(args.images, args.steps, batch_size=size, engine="ray")
            local = image_steps_per_second(args.images, args.steps, batch_size=size)
            print(f"  ray, 2 CPU workers, batch {size}: {rate:8.1f} image-steps/s; local engine, same "
                  f"batch, in this run: {local:8.1f} ({rate / local:4.2f} x local)", flush=True)
        finally:
            ray.shutdown()


if __name__ == "__main__":
    main()
