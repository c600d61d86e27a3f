"""The starter notebooks run from top to bottom in a real Jupyter kernel, show the results'
rich display, and are kept in git without outputs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
RESULT = re.compile(r'<div class="fragility-result">.*?</div>\s*$', re.S)
TILE = re.compile(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"')
PLOTLY = "application/vnd.plotly.v1+json"
# notebook: (results displayed with their tiles, least tiles in one, Plotly figures)
EXPECTED = {"attack.ipynb": (2, 5, 1), "sweep.ipynb": (0, 0, 1), "sanity_checks.ipynb": (2, 2, 2)}


def test_every_notebook_is_checked():
    assert sorted(path.name for path in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_notebooks_in_git_have_no_outputs(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_notebook_runs_and_shows_the_results(name, monkeypatch):
    # The kernel is a child process: it inherits PYTHONPATH, so it imports this checkout's
    # fragility (as `make test`'s editable install does).
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import fragility; print(fragility.__file__)"))
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()   # raises on a cell's error

    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    streams = "".join(output.text for output in outputs if output.output_type == "stream")
    assert "Warning" not in streams, streams     # e.g. tqdm's about ipywidgets: the text bar is fine
    html = [output.data["text/html"] for output in outputs if "text/html" in output.get("data", {})]
    results = [page for page in html if RESULT.search(page)]
    results_shown, least_tiles, charts = EXPECTED[name]
    assert len(results) == results_shown
    assert all(len(TILE.findall(page)) >= least_tiles for page in results)
    assert sum(PLOTLY in output.get("data", {}) for output in outputs) == charts
    printed = notebook.cells[-1].outputs[0].text.strip()
    assert Path(printed).resolve().is_relative_to(ROOT), printed
