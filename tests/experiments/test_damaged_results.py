"""A damaged results folder: each fault is one message naming the file, and a sweep goes on
past a damaged part by setting it aside and computing its rows again."""

from __future__ import annotations

import warnings

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fragility as fg
from fragility import cli
from fragility.experiments.results import DamagedPart

from grids import KEY


def sweep_args(model_file, out):
    return ["sweep", "--model", str(model_file), "--images", "synthetic:2", "--methods", "gradient",
            "--attacks", "top-k,random-sign", "--epsilons", "8", "--steps", "2", "--step-size", "2",
            "--k", "40", "--batch-size", "1", "--device", "cpu", "--out", str(out)]


def sweep(model_file, out):
    """The sweep of sweep_args, without figures (they need only the rows)."""
    return fg.sweep(str(model_file), "synthetic:2", methods=["gradient"], attacks=["top-k", "random-sign"],
                    epsilons=[8 / 255], steps=2, step_size=2 / 255, k=40, batch_size=1, device="cpu",
                    out=out, figures=False)


@pytest.fixture
def swept(model_file, tmp_path):
    out = tmp_path / "out"
    sweep(model_file, out)
    parts = sorted((out / "results.parquet").glob("part-*.parquet"))
    assert len(parts) >= 2
    return out, parts


def damage(part, how):
    if how == "empty":
        part.write_bytes(b"")
    elif how == "corrupt":
        data = bytearray(part.read_bytes())
        data[4:len(data) // 2] = bytes(len(data) // 2 - 4)   # the footer stays, the pages do not
        part.write_bytes(bytes(data))
    else:   # a foreign Parquet file under a part's name
        pq.write_table(pa.table({"city": ["Oslo"], "people": [700_000]}), part)


@pytest.mark.parametrize("how", ["empty", "corrupt", "foreign"])
def test_report_names_a_damaged_part_in_one_line(swept, capsys, how):
    out, parts = swept
    damage(parts[0], how)
    with pytest.raises(DamagedPart, match=parts[0].name):
        fg.experiments.read_results(out)
    assert cli.main(["report", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("fragility: error: ") and str(parts[0]) in error
    assert "Traceback" not in error and len(error.strip().splitlines()) == 1


@pytest.mark.parametrize("how", ["empty", "corrupt", "foreign"])
def test_a_sweep_sets_a_damaged_part_aside_and_computes_its_rows_again(swept, model_file, how):
    out, parts = swept
    before = fg.experiments.read_results(out).sort_values(KEY).reset_index(drop=True)
    damage(parts[0], how)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sweep(model_file, out)
    assert any(parts[0].name in str(warning.message) and "set aside" in str(warning.message)
               for warning in caught)
    after = fg.experiments.read_results(out).sort_values(KEY).reset_index(drop=True)
    assert not after.duplicated(KEY).any()
    pd.testing.assert_frame_equal(after[KEY], before[KEY])
    assert (out / "results.parquet" / f"damaged-{parts[0].name}.bad").is_file()   # kept, not lost


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", ""])
def test_a_broken_config_is_one_message_and_the_rows_still_report(swept, model_file, capsys, text):
    out, _ = swept
    (out / "config.json").write_text(text)
    assert cli.main(sweep_args(model_file, out)) == 2
    error = capsys.readouterr().err
    assert str(out / "config.json") in error and "Traceback" not in error
    assert len(error.strip().splitlines()) == 1
    with pytest.raises(fg.ConfigError, match="config.json"):
        fg.experiments.read_config(out)
    assert len(fg.experiments.read_results(out)) == 4    # the figures need only the rows


def test_sweep_flags_are_checked_in_the_units_typed(tmp_path, capsys):
    assert cli.main(["sweep", "--epsilons", "300", "--out", str(tmp_path / "a")]) == 2
    assert "--epsilons must be <= 255, got 300" in capsys.readouterr().err
    file = tmp_path / "file"
    file.write_text("x")
    assert cli.main(["sweep", "--out", str(file)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert cli.main(["sweep", "--out", str(file / "below")]) == 2
    assert "cannot create the folder" in capsys.readouterr().err
