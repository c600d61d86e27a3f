"""The results root of the Experiments page: one shared plotly.min.js and a size quota.

Every sweep's figures folder needs plotly.min.js beside its HTML to open offline (4.8 MB).
The root keeps one copy and each figures folder gets a hard link to it, which takes no
space of its own (where the file system has no hard links, plotly writes its own copy).
The root is held to FRAGILITY_RESULTS_MB (default 500): when a sweep finishes, the oldest
results folders are removed first until the root fits, never one a sweep is writing.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

QUOTA_VARIABLE = "FRAGILITY_RESULTS_MB"
DEFAULT_MB = 500
SHARED_SCRIPT = ".plotly.min.js"
LOCK = ".lock"     # fragility.experiments.results: held while a sweep writes a folder


def quota_mb() -> int:
    try:
        return max(1, int(os.environ.get(QUOTA_VARIABLE, str(DEFAULT_MB))))
    except ValueError:
        return DEFAULT_MB


def link_script(root: Path, out: Path) -> None:
    """Put the root's one plotly.min.js into out/figures (a hard link), before the sweep
    writes its HTML there."""
    from plotly.offline import get_plotlyjs

    shared = root / SHARED_SCRIPT
    target = out / "figures" / "plotly.min.js"
    if target.exists():
        return
    root.mkdir(parents=True, exist_ok=True)
    if not shared.is_file():
        temporary = root / f"{SHARED_SCRIPT}.{os.getpid()}.tmp"
        temporary.write_text(get_plotlyjs(), encoding="utf-8")
        os.replace(temporary, shared)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(shared, target)
    except OSError:
        pass            # no hard links here: plotly writes the folder's own copy


def used_bytes(root: Path) -> int:
    """The space the results folders under `root` take, each file counted once (links)."""
    return _size(_result_folders(root), set())


def prune(root: Path, keep: Path) -> list[str]:
    """Remove the oldest results folders (not `keep`, not one being written) until the root
    fits its quota; the names of those removed."""
    limit = quota_mb() * 1_000_000
    folders = sorted(_result_folders(root), key=lambda folder: folder.stat().st_mtime)
    removed = []
    while used_bytes(root) > limit:
        candidates = [folder for folder in folders
                      if folder.resolve() != keep.resolve() and not _being_written(folder)]
        if not candidates:
            break
        oldest = candidates[0]
        shutil.rmtree(oldest, ignore_errors=True)
        folders.remove(oldest)
        removed.append(oldest.name)
    return removed


def _result_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [path for path in root.iterdir() if path.is_dir() and not path.is_symlink()
            and (path / "config.json").is_file()]


def _size(folders: list[Path], seen: set[tuple[int, int]]) -> int:
    total = 0
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_symlink() or not path.is_file():
                continue
            status = path.stat()
            if (status.st_dev, status.st_ino) not in seen:
                seen.add((status.st_dev, status.st_ino))
                total += status.st_size
    return total


def _being_written(folder: Path) -> bool:
    lock = folder / LOCK
    if not lock.is_file():
        return False
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
