"""The Experiments page's results root: one plotly.min.js for every sweep, and a quota that
removes the oldest results first, never a folder a sweep is writing."""

from __future__ import annotations

import fcntl
import os

import pytest
from streamlit.testing.v1 import AppTest

from app_driver import APP, latest_job, open_page, run_until_done
from dashboard.components import results_quota


def results_folder(root, name, megabytes, age):
    folder = root / name
    (folder / "results.parquet").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "results.parquet" / "part-0.parquet").write_bytes(bytes(int(megabytes * 1_000_000)))
    os.utime(folder, (age, age))
    return folder


def test_prune_removes_the_oldest_first_until_the_root_fits(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAGILITY_RESULTS_MB", "3")
    old, middle, new = (results_folder(tmp_path, name, 1.4, age)
                        for name, age in (("old", 1000), ("middle", 2000), ("new", 3000)))
    assert results_quota.prune(tmp_path, keep=new) == ["old"]
    assert not old.exists() and middle.is_dir() and new.is_dir()
    assert results_quota.used_bytes(tmp_path) <= 3_000_000


def test_prune_spares_the_kept_folder_and_one_being_written(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAGILITY_RESULTS_MB", "1")
    writing = results_folder(tmp_path, "writing", 1.5, 1000)
    kept = results_folder(tmp_path, "kept", 1.5, 2000)
    with open(writing / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert results_quota.prune(tmp_path, keep=kept) == []
    assert writing.is_dir() and kept.is_dir()
    assert results_quota.prune(tmp_path, keep=kept) == ["writing"]


def test_linked_copies_of_the_script_count_once(tmp_path):
    folders = [results_folder(tmp_path, name, 0, 1000) for name in ("a", "b", "c")]
    for folder in folders:
        results_quota.link_script(tmp_path, folder)
    script = os.path.getsize(tmp_path / results_quota.SHARED_SCRIPT)
    assert script > 1_000_000
    inodes = {os.stat(folder / "figures" / "plotly.min.js").st_ino for folder in folders}
    assert inodes == {os.stat(tmp_path / results_quota.SHARED_SCRIPT).st_ino}
    assert results_quota.used_bytes(tmp_path) == script + 3 * len("{}")   # and the configs


@pytest.mark.parametrize("value,expected", [(None, 500), ("200", 200), ("nonsense", 500), ("0", 1)])
def test_quota_setting(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("FRAGILITY_RESULTS_MB", raising=False)
    else:
        monkeypatch.setenv("FRAGILITY_RESULTS_MB", value)
    assert results_quota.quota_mb() == expected


def run_sweep(at, epsilons):
    at.slider(key="sweep_images").set_value(2)
    at.multiselect(key="sweep_attacks").set_value(["top-k", "random-sign"])
    at.multiselect(key="sweep_epsilons").set_value(epsilons)
    at.number_input(key="sweep_steps").set_value(2)
    at.run()
    at.button(key="run_sweep").click().run()
    job = latest_job(at)
    run_until_done(at)
    assert not at.exception and not at.error, [e.value for e in at.error]
    return job


def test_sweeps_share_one_script_and_the_page_says_what_the_quota_removed(tmp_path, monkeypatch):
    root = tmp_path / "results"
    monkeypatch.setenv("FRAGILITY_RESULTS", str(root))
    monkeypatch.setenv("FRAGILITY_RESULTS_MB", "500")
    at = open_page(AppTest.from_file(str(APP), default_timeout=180).run(), "experiments")
    assert any("keeps at most 500 MB" in caption.value for caption in at.caption)
    first = run_sweep(at, [2])
    assert first.result.attrs["removed"] == []
    # a quota the first sweep and the script already fill: a second sweep is one too many
    monkeypatch.setenv("FRAGILITY_RESULTS_MB", str(results_quota.used_bytes(root) // 1_000_000))
    second = run_sweep(at, [8])
    folders = [path for path in root.iterdir() if path.is_dir()]
    assert len(folders) == 1 and second.result.attrs["removed"] != []
    script = (folders[0] / "figures" / "plotly.min.js").stat()
    assert script.st_ino == (root / results_quota.SHARED_SCRIPT).stat().st_ino
    assert [info.value for info in at.info
            if "the oldest results were removed" in info.value]
