"""`fragility sweep` and `fragility report` end to end, and a sweep killed mid-run that resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import fragility as fg
from fragility import cli
from grids import KEY

ROOT = Path(__file__).resolve().parents[2]
LONG = ("synthetic:4", 25)   # 8 shards of 2 images, long enough to stop one midway


def sweep_args(model_file, out, images="synthetic:4", steps=3, *extra):
    return ["sweep", "--model", str(model_file), "--images", images, "--methods", "gradient",
            "--attacks", "top-k,random-sign", "--epsilons", "2,8", "--steps", str(steps), "--step-size", "2",
            "--k", "40", "--seed", "0", "--batch-size", "2", "--device", "cpu", "--out", str(out), *extra]


def test_sweep_writes_rows_config_and_figures_and_report_redraws_them(model_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(sweep_args(model_file, out)) == 0
    printed = capsys.readouterr()
    rows = pd.read_parquet(out / "results.parquet")
    assert len(rows) == 4 * 2 * 2 and not rows.duplicated(KEY).any()
    config = json.loads((out / "config.json").read_text())
    assert config["settings"]["steps"] == 3 and config["grid"]["epsilons"] == [2 / 255, 8 / 255]
    assert "random-sign" in printed.out and "top_k_intersection" in printed.out
    assert "rows" in printed.err   # the progress bar
    names = {path.name for path in (out / "figures").iterdir()}
    assert {"curves.html", "top_k_intersection.html", "spearman.html", "center_shift.html"} <= names
    assert "curves.png" in names or not Path("/usr/bin/chromium").exists()

    for path in (out / "figures").glob("*.html"):
        path.unlink()
    assert cli.main(["report", str(out)]) == 0
    assert "curves.html" in capsys.readouterr().out
    assert (out / "figures" / "curves.html").is_file()


def test_report_html_is_one_offline_page_with_the_table_and_figures(model_file, tmp_path, capsys, monkeypatch):
    import base64
    import io
    import re

    import plotly.io as pio
    from PIL import Image

    out = tmp_path / "out"
    assert cli.main(sweep_args(model_file, out, "synthetic:2")) == 0
    capsys.readouterr()
    assert cli.main(["report", str(out), "--html"]) == 0
    assert str(out / "report.html") in capsys.readouterr().out
    page = (out / "report.html").read_text(encoding="utf-8")
    from fragility.experiments.report import summary
    table = summary(fg.experiments.read_results(out))
    assert f"{table['top_k_intersection'].iloc[0]:.3f}" in page and "random-sign" in page
    assert "<script" not in page and re.search(r"https?://", page) is None
    if Path("/usr/bin/chromium").exists():                      # kaleido draws the PNGs
        pictures = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
        assert len(pictures) >= 4
        assert all(Image.open(io.BytesIO(base64.b64decode(data))).width > 0 for data in pictures)

    def no_browser(*args, **kwargs):
        raise RuntimeError("no browser")

    monkeypatch.setattr(pio, "write_images", no_browser)
    for path in (out / "figures").glob("*.png"):
        path.unlink()
    with pytest.warns(UserWarning, match="HTML only"):
        assert cli.main(["report", str(out), "--html"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<img src=\"data:image/png" not in page and re.search(r"<script[^>]*\bsrc=", page) is None
    assert "Plotly.newPlot" in page


def test_bad_arguments_are_one_line_and_exit_2(model_file, tmp_path, capsys):
    assert cli.main(sweep_args(model_file, tmp_path / "out", "synthetic:0")) == 2
    assert "synthetic:N" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path / "nothing")]) == 2
    assert "no rows yet" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["sweep", "--out", str(tmp_path), "--epsilons", "a,b"])


def start_sweep(model_file, out, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "fragility.cli", *sweep_args(model_file, out, *LONG)]
    # the progress bar goes to a file: an unread pipe fills up and stalls the sweep
    with open(log, "w") as handle:
        return subprocess.Popen(command, env=env, cwd=log.parent, stdout=handle, stderr=subprocess.STDOUT)


def wait_for_parts(out: Path, process: subprocess.Popen, count: int, timeout: float = 300) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        parts = sorted((out / "results.parquet").glob("part-*.parquet"))
        if len(parts) >= count:
            return parts
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.kill()
    raise TimeoutError("the sweep wrote no shard in time")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["killed", "ctrl-c"])
def test_a_sweep_stopped_mid_run_resumes_without_losing_or_repeating_rows(how, model_file, tmp_path):
    out = tmp_path / "out"
    log = tmp_path / "sweep.log"
    process = start_sweep(model_file, out, log)
    parts = wait_for_parts(out, process, 2)
    process.send_signal(how)
    process.wait(timeout=120)
    if how == signal.SIGINT:
        assert process.returncode == 130 and "run the same command again to resume" in log.read_text()
    else:
        assert process.returncode == -signal.SIGKILL
    kept = {path.name: path.read_bytes() for path in (out / "results.parquet").glob("part-*.parquet")}
    assert len(parts) <= len(kept) < 8   # 4 images x 2 eps x 2 attacks, 2 images per shard
    assert not (out / "figures").exists()

    assert cli.main(sweep_args(model_file, out, *LONG)) == 0
    rows = pd.read_parquet(out / "results.parquet")
    assert len(rows) == 16 and not rows.duplicated(KEY).any()
    for name, data in kept.items():   # finished shards were kept as they were, not redone
        assert (out / "results.parquet" / name).read_bytes() == data

    fresh = fg.sweep(str(model_file), "synthetic:4", methods=["gradient"], attacks=["top-k", "random-sign"],
                     epsilons=[2 / 255, 8 / 255], steps=LONG[1], step_size=2 / 255, k=40, batch_size=2,
                     device="cpu")   # the rows of a run never stopped
    columns = [c for c in rows.columns if c != "seconds"]
    pd.testing.assert_frame_equal(rows[columns].sort_values(KEY).reset_index(drop=True),
                                  fresh[columns].sort_values(KEY).reset_index(drop=True))


def test_beta_is_an_axis_on_the_command_line_and_report_prints_n_and_found(model_file, tmp_path, capsys):
    out = tmp_path / "out"
    args = sweep_args(model_file, out, "synthetic:2")
    args[args.index("--epsilons") + 1] = "8"
    assert cli.main([*args, "--beta", "1,30"]) == 0
    rows = pd.read_parquet(out / "results.parquet")
    assert sorted(set(rows[rows.attack == "top-k"]["beta"])) == [1.0, 30.0]
    assert rows[rows.attack == "random-sign"]["beta"].isna().all() and len(rows) == 2 * 3
    capsys.readouterr()
    assert cli.main(["report", str(out)]) == 0
    printed = capsys.readouterr().out
    header = printed.splitlines()[0].split()
    assert {"images", "found", "n", "beta", "paired_n"} <= set(header)
    assert "beta.html" in printed
