"""The Ray engine on a local cluster (loopback only): the local engine's rows, and a worker
killed mid-sweep that Ray retries without a row lost or written twice."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

import fragility as fg
from grids import GRID, KEY

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.xdist_group("ray")   # one local cluster, on one test worker
SETTINGS = dict(GRID, steps=20, batch_size=2)


@pytest.fixture(scope="module")
def cluster():
    # a new cluster of this test's own, whatever RAY_ADDRESS or an earlier `ray start` says
    ray.init(address="local", num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False,
             logging_level="WARNING")
    yield
    ray.shutdown()


def local_rows(model_file, images: str) -> pd.DataFrame:
    assert torch.get_num_threads() == 1   # as each Ray worker computes: the same sums in the same order
    return fg.sweep(str(model_file), images, **SETTINGS)


def same_rows(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    columns = [name for name in ours.columns if name != "seconds"]
    pd.testing.assert_frame_equal(ours[columns].sort_values(KEY).reset_index(drop=True),
                                  theirs[columns].sort_values(KEY).reset_index(drop=True))


def test_ray_gives_the_local_engines_rows_and_writes_them_the_same_way(cluster, model_file, tmp_path):
    rows = fg.sweep(str(model_file), "synthetic:4", engine="ray", out=tmp_path / "out", figures=False,
                    **SETTINGS)
    assert ray.is_initialized()   # a cluster it joined stays up
    assert len(rows) == 8 and rows.attrs["complete"]
    same_rows(rows, local_rows(model_file, "synthetic:4"))
    same_rows(pd.read_parquet(tmp_path / "out" / "results.parquet"), rows)


def shard_workers() -> list[int]:
    """Processes of this test's cluster running a shard now (their title is ray::_run_shard)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _descends_from_us(int(entry.name)):
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::_run_shard"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _descends_from_us(pid: int) -> bool:
    while pid > 1:
        if pid == os.getpid():
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def test_a_worker_killed_mid_sweep_is_retried_and_no_row_is_lost_or_doubled(cluster, model_file, tmp_path):
    out, outcome, killed = tmp_path / "out", {}, []

    def run():
        try:
            outcome["rows"] = fg.sweep(str(model_file), "synthetic:6", engine="ray", out=out,
                                       figures=False, **SETTINGS)
        except BaseException as error:   # shown by the assertion below
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 600
    while not killed and thread.is_alive() and time.monotonic() < deadline:
        parts = list((out / "results.parquet").glob("part-*.parquet")) if out.exists() else []
        workers = shard_workers()
        if parts and workers:   # one shard written, another running: kill its worker
            os.kill(workers[0], signal.SIGKILL)
            killed.append(workers[0])
        time.sleep(0.02)
    thread.join(timeout=600)
    assert killed, "no worker was running a shard to kill"
    assert "error" not in outcome, outcome.get("error")
    rows = outcome["rows"]
    assert len(rows) == 12 and not rows.duplicated(KEY).any()   # 6 images x 2 configurations
    on_disk = pd.read_parquet(out / "results.parquet")
    assert len(on_disk) == 12 and not on_disk.duplicated(KEY).any()
    same_rows(rows, local_rows(model_file, "synthetic:6"))
