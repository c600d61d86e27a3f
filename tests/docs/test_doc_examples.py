"""Every python and bash example of the README and docs/*.md runs, in order, per file.

The python blocks of one file share one namespace; every block of a file runs in one
temporary folder (holding links to the repository's `fragility/` and `docs/`, which the
examples name), so a shell example may write `out/...` that a later python block reads.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from doc_blocks import ROOT, Block, blocks, documents

ALL = [block for path in documents() for block in blocks(path)]
LINKED = ("fragility", "docs", "benchmarks", "scripts")


@pytest.mark.parametrize("path", documents(), ids=lambda path: str(path.relative_to(ROOT)))
def test_examples(path, tmp_path, monkeypatch):
    """The blocks of one file, in order, in one test: later blocks use what earlier ones made
    (one test per file keeps them on one worker under xdist). Marked blocks are skipped."""
    runnable = [block for block in blocks(path) if block.skip is None]
    if not runnable:
        pytest.skip(f"{path.name} has no runnable example")
    for name in LINKED:
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = {"__name__": "__example__"}
    for block in runnable:
        _run(block, tmp_path, namespace)


def _run(block: Block, folder, namespace: dict) -> None:
    if block.language == "python":
        exec(compile(block.code, block.name, "exec"), namespace)
        return
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "MPLBACKEND": "Agg"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (f"{block.name} exited {done.returncode}\n"
                                  f"{textwrap.indent(done.stdout[-3000:] + done.stderr[-3000:], '  ')}")


def test_the_examples_are_found_and_most_of_them_run():
    readme = [b for b in ALL if b.path.name == "README.md"]
    assert sum(b.language == "python" and b.skip is None for b in readme) >= 2
    assert sum(b.language == "bash" and b.skip is None for b in readme) >= 1
    assert all(b.skip for b in ALL if b.skip is not None), "a skip needs its reason"


def test_a_skip_comment_marks_only_the_next_block(tmp_path):
    text = "<!-- skip: needs the network -->\n\n```bash\nfalse\n```\n\n```python\nx = 1\n```\n```text\nnot run\n```\n"
    found = blocks(tmp_path / "a.md", text)
    assert [(b.language, b.line, b.skip, b.code) for b in found] == [
        ("bash", 3, "needs the network", "false"), ("python", 7, None, "x = 1")]


def test_an_unclosed_block_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="never closed"):
        blocks(tmp_path / "a.md", "```python\nx = 1\n")
