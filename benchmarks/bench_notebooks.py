"""Wall time of each starter notebook in notebooks/, run top to bottom in a fresh Jupyter
kernel on one CPU thread (OMP_NUM_THREADS=1), as tests/notebooks runs them (not a test).

    python benchmarks/bench_notebooks.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        started = time.perf_counter()
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        print(f"{path.name:24} {time.perf_counter() - started:6.1f} s (kernel start included)")


if __name__ == "__main__":
    main()
