"""fg.sweep on the local engine: tidy rows that are fg.attack's numbers, written so that a rerun resumes."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest
import torch

import fragility as fg
from grids import GRID, KEY
from fragility.experiments import read_results, results, rows as rows_module
from fragility.experiments.grid import Configuration, row_key
from fragility.experiments.results import ResultStore


@pytest.fixture
def batch():
    torch.manual_seed(3)
    return torch.rand(5, 3, 16, 16, dtype=torch.float64)


def test_one_row_per_image_and_configuration_with_the_attacks_numbers(cnn, batch):
    frame = fg.sweep(cnn, batch, seeds=[0, 1], batch_size=2, **{**GRID, "epsilons": [2 / 255, 8 / 255]})
    assert list(frame.columns) == list(rows_module.COLUMNS)
    assert len(frame) == 5 * 2 * 2 * 2 and not frame.duplicated(KEY).any()
    assert frame.attrs == {"skipped": [], "complete": True}
    assert set(frame["criterion"]) == {"top-k"} and set(frame["defence"]) == {"none"}
    # each row is what fg.attack gives for that image alone (groups of images are independent)
    for attack in ("top-k", "random-sign"):
        chunk = batch[2:4]   # the second attack call of batch_size 2: the same batch composition
        expected = fg.attack(cnn, chunk, method="gradient", attack=attack, epsilon=8 / 255, steps=3,
                             step_size=2 / 255, k=40, seed=1)
        got = frame[(frame.attack == attack) & (frame.seed == 1) & (frame.epsilon == 8 / 255)
                    & frame.image_id.isin(["image-00002", "image-00003"])].sort_values("image_id")
        for name in ("spearman", "top_k_intersection", "center_shift", "pearson", "ssim", "dissimilarity"):
            assert got[name].tolist() == pytest.approx(expected.metrics[name].tolist(), abs=1e-12), name
        assert got["label_kept"].tolist() == expected.labels_kept.tolist()
        assert got["found"].tolist() == expected.found.tolist()
        assert got["label_index"].tolist() == expected.labels.tolist()
        assert got["label"].tolist() == [f"class {i}" for i in expected.labels.tolist()]
        probabilities = torch.softmax(cnn(chunk), dim=1).detach()
        assert got["confidence_before"].tolist() == pytest.approx(
            probabilities[torch.arange(2), expected.labels].tolist())
        after = torch.softmax(cnn(expected.perturbed), dim=1).detach()
        assert got["confidence_after"].tolist() == pytest.approx(
            after[torch.arange(2), expected.perturbed_labels].tolist())
        assert got["epsilon_255"].tolist() == [8.0, 8.0] and got["k"].tolist() == [40, 40]
        assert got["mass_in_mask_before"].isna().all()   # tensors come without masks
        assert (got["seconds"] > 0).all() and got["shard"].nunique() == 1


def test_rows_do_not_depend_on_the_batch_size_for_the_deterministic_attack(cnn, batch):
    one = fg.sweep(cnn, batch, batch_size=1, **{**GRID, "attacks": ["top-k"]})
    five = fg.sweep(cnn, batch, batch_size=5, **{**GRID, "attacks": ["top-k"]})
    assert one["shard"].nunique() == 5 and five["shard"].nunique() == 1
    pd.testing.assert_frame_equal(one.drop(columns=["seconds", "shard"]), five.drop(columns=["seconds", "shard"]),
                                  check_exact=False, atol=1e-10)


def test_synthetic_images_carry_their_class_and_mask(model_file):
    frame = fg.sweep(str(model_file), "synthetic:3", **{**GRID, "attacks": ["top-k"]})
    assert frame["true_class"].tolist() == [fg.experiments.sources.SyntheticSource(3, 64).classes[i]
                                            for i in frame["image_id"]]
    assert frame["mass_in_mask_before"].between(0, 1).all() and frame["mass_in_mask_after"].notna().all()
    assert frame["model"].unique().tolist() == [str(model_file)]


def test_a_rerun_resumes_and_never_duplicates_a_row(cnn, batch, tmp_path):
    out = tmp_path / "sweep"
    seen = []

    def stop_after_two_shards(progress):
        seen.append(progress)
        return progress.shards_done < 2

    first = fg.sweep(cnn, batch, batch_size=2, out=out, callback=stop_after_two_shards, figures=False, **GRID)
    assert not first.attrs["complete"] and len(first) == 4          # 2 shards of 2 images
    assert seen[-1].rows is not None and len(seen[-1].rows) == 2    # the last shard's rows
    assert any(p.rows is None and 0 < p.done < p.total for p in seen)   # step updates between shards
    parts = {path.name: path.read_bytes() for path in (out / "results.parquet").iterdir()}
    assert len(parts) == 2

    progress = []
    second = fg.sweep(cnn, batch, batch_size=2, out=out, callback=progress.append, figures=False, **GRID)
    assert second.attrs["complete"] and len(second) == 10 and not second.duplicated(KEY).any()
    assert progress[-1].total == 6 and progress[-1].shards == 4     # only what was missing ran
    for name, data in parts.items():                                # finished shards untouched
        assert (out / "results.parquet" / name).read_bytes() == data
    again = fg.sweep(cnn, batch, batch_size=2, out=out, figures=False, **GRID)   # nothing left to do
    pd.testing.assert_frame_equal(again.sort_values(KEY).reset_index(drop=True),
                                  second.sort_values(KEY).reset_index(drop=True))
    config = json.loads((out / "config.json").read_text())
    assert [run["rows_written"] for run in config["runs"]] == [4, 6, 0]


def test_the_grid_grows_but_settings_must_match(cnn, batch, tmp_path):
    out = tmp_path / "sweep"
    fg.sweep(cnn, batch[:2], out=out, figures=False, **GRID)
    grown = fg.sweep(cnn, batch[:2], out=out, figures=False, **{**GRID, "epsilons": [4 / 255, 8 / 255]})
    assert len(grown) == 8 and len(read_results(out)) == 8
    assert json.loads((out / "config.json").read_text())["grid"]["epsilons"] == [8 / 255, 4 / 255]
    with pytest.raises(fg.ConfigError, match="steps=3, not 5"):
        fg.sweep(cnn, batch[:2], out=out, figures=False, **{**GRID, "steps": 5})
    assert len(read_results(out)) == 8


def test_results_read_in_pandas_and_duckdb(cnn, batch, tmp_path):
    out = tmp_path / "sweep"
    frame = fg.sweep(cnn, batch, batch_size=2, out=out, figures=False, **GRID)
    on_disk = pd.read_parquet(out / "results.parquet")
    assert len(on_disk) == len(frame) == 10
    means = duckdb.sql(f"SELECT attack, avg(top_k_intersection) AS top_k, count(*) AS n "
                       f"FROM read_parquet('{out}/results.parquet/*.parquet') GROUP BY attack "
                       "ORDER BY attack").fetchall()
    expected = frame.groupby("attack")["top_k_intersection"].mean()
    assert [(a, pytest.approx(expected[a]), 5) for a in ("random-sign", "top-k")] == means


def test_leftovers_of_a_cut_off_write_are_removed_and_never_read(tmp_path):
    parts = tmp_path / "results.parquet"
    parts.mkdir()
    (parts / ".part-abc.parquet.tmp").write_bytes(b"half a file")
    with ResultStore(tmp_path, {"model": "m", "weights": None, "settings": {}, "grid": {}}) as store:
        assert store.done() == set()
    assert not list(parts.iterdir())


def test_one_sweep_at_a_time_writes_to_a_folder(tmp_path):
    config = {"model": "m", "weights": None, "settings": {}, "grid": {}}
    with ResultStore(tmp_path, config):
        with pytest.raises(fg.ConfigError, match="another sweep is writing"):
            ResultStore(tmp_path, config).__enter__()
    with ResultStore(tmp_path, config):   # released
        pass


def test_a_store_keeps_exactly_the_rows_written(tmp_path):
    configuration = Configuration("gradient", "top-k", 8 / 255, 0, "top-k")
    row = {name: None for name in rows_module.COLUMNS} | {
        "image_id": "a", "method": "gradient", "attack": "top-k", "criterion": "top-k",
        "defence": "none", "epsilon": 8 / 255, "seed": 0, "label_kept": True, "found": True}
    with ResultStore(tmp_path, {"model": "m", "weights": None, "settings": {}, "grid": {}}) as store:
        store.write("one", [row])
        assert store.done() == {configuration.key("a")} == {row_key(row)}
    assert read_results(tmp_path)["image_id"].tolist() == ["a"]
    assert results.read_config(tmp_path)["model"] == "m"


def test_unreadable_images_are_reported_and_skipped(model_file, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(2):
        (folder / f"{index}.png").write_bytes(fg.samples("synthetic")[index].path.read_bytes())
    (folder / "bad.png").write_bytes(b"<html>not found</html>")
    with pytest.warns(UserWarning, match="bad.png"):
        frame = fg.sweep(str(model_file), folder, out=tmp_path / "out", figures=False,
                         **{**GRID, "attacks": ["top-k"]})
    assert sorted(frame["image_id"]) == ["0.png", "1.png"]
    assert [item["image_id"] for item in frame.attrs["skipped"]] == ["bad.png"]
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert [item["image_id"] for item in config["skipped_images"]] == ["bad.png"]


@pytest.mark.parametrize("change, message", [
    ({"methods": ["no-such-method"]}, "unknown method"),
    ({"attacks": ["targeted"]}, "needs region"),
    ({"epsilons": []}, "epsilons is empty"),
    ({"epsilons": [2.0]}, "epsilon must be <= 1"),
    ({"methods": ["gradient", "gradient"]}, "twice"),
    ({"engine": "spark"}, "unknown engine"),
    ({"batch_size": 0}, "batch_size"),
])
def test_bad_settings_are_config_errors(change, message, cnn, batch):
    with pytest.raises(fg.ConfigError, match=message):
        fg.sweep(cnn, batch, **{**GRID, **change})


def test_the_ray_engine_wants_a_model_it_can_build_in_a_worker(cnn, batch):
    pytest.importorskip("ray")
    with pytest.raises(fg.ConfigError, match="name .* or a file path"):
        fg.sweep(cnn, batch, engine="ray", **GRID)


def test_random_sign_is_the_baseline_of_each_attack_by_its_criterion(cnn, batch):
    frame = fg.sweep(cnn, batch[:2], **{**GRID, "attacks": ["top-k", "mass-center", "random-sign"]})
    baseline = frame[frame.attack == "random-sign"]
    assert sorted(set(baseline["criterion"])) == ["mass-center", "top-k"] and len(baseline) == 4
    assert set(zip(frame.attack, frame.criterion)) == {
        ("top-k", "top-k"), ("mass-center", "mass-center"), ("random-sign", "top-k"),
        ("random-sign", "mass-center")}
    for criterion in ("top-k", "mass-center"):
        expected = fg.attack(cnn, batch[:2], attack="random-sign", criterion=criterion, epsilon=8 / 255,
                             steps=3, step_size=2 / 255, k=40, seed=0)
        got = baseline[baseline.criterion == criterion].sort_values("image_id")
        assert got["dissimilarity"].tolist() == pytest.approx(expected.metrics["dissimilarity"].tolist())
        assert got["center_shift"].tolist() == pytest.approx(expected.metrics["center_shift"].tolist())
        assert got["found"].tolist() == expected.found.tolist()


def test_defences_are_a_column_with_their_faithfulness(cnn, batch):
    frame = fg.sweep(cnn, batch[:2], defences=[None, "beta-smoothing"], **{**GRID, "attacks": ["top-k"]})
    assert sorted(set(frame["defence"])) == ["beta-smoothing", "none"] and len(frame) == 4
    plain, defended = frame[frame.defence == "none"], frame[frame.defence == "beta-smoothing"]
    assert plain["faithfulness_spearman"].isna().all()
    expected = fg.attack(cnn, batch[:2], attack="top-k", defence="beta-smoothing", epsilon=8 / 255,
                         steps=3, step_size=2 / 255, k=40)
    defended = defended.sort_values("image_id")
    assert defended["spearman"].tolist() == pytest.approx(expected.metrics["spearman"].tolist())
    assert defended["faithfulness_spearman"].tolist() == pytest.approx(
        expected.metrics["faithfulness_spearman"].tolist())
    with pytest.raises(fg.ConfigError, match="unknown defence"):
        fg.sweep(cnn, batch[:2], defences=["armour"], **GRID)


def test_one_defence_runs_every_configuration_with_and_without_it(cnn, batch):
    frame = fg.sweep(cnn, batch[:1], defence="smoothgrad", **{**GRID, "attacks": ["top-k"]})
    assert sorted(frame["defence"]) == ["none", "smoothgrad"]
    with pytest.raises(fg.ConfigError, match="not both"):
        fg.sweep(cnn, batch[:1], defence="smoothgrad", defences=[None, "beta-smoothing"], **GRID)


def test_a_stochastic_method_gets_its_noise_floor(cnn, batch):
    frame = fg.sweep(cnn, batch[:2], method_options={"smoothgrad": {"samples": 3}},
                     **{**GRID, "methods": ["smoothgrad"], "attacks": ["top-k"]})
    assert frame["noise_floor_spearman"].between(-1, 1).all()
    assert frame["noise_floor_top_k_intersection"].notna().all()


def test_sweep_is_the_function_not_its_module():
    import importlib
    import inspect

    importlib.import_module("fragility.experiments.sweep")
    assert inspect.isfunction(fg.sweep) and fg.experiments.sweep is fg.sweep


def test_the_local_engine_never_imports_ray():
    import subprocess
    import sys

    code = ("import sys, fragility as fg\n"
            "fg.sweep('bundled', 'synthetic:1', steps=1, figures=False)\n"
            "assert 'ray' not in sys.modules, 'ray was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_beta_and_k_are_axes_and_random_sign_runs_once(cnn, batch):
    frame = fg.sweep(cnn, batch[:2], **{**GRID, "k": [20, 40], "beta": [1.0, 30.0]})
    attacked, baseline = frame[frame.attack == "top-k"], frame[frame.attack == "random-sign"]
    assert len(attacked) == 2 * 2 * 2 and sorted(set(attacked["beta"])) == [1.0, 30.0]
    assert len(baseline) == 2 * 2 and baseline["beta"].isna().all()   # random sign has no beta
    assert sorted(set(frame["k"])) == [20, 40] and not frame.duplicated([*KEY, "k", "beta"]).any()
    for beta in (1.0, 30.0):
        expected = fg.attack(cnn, batch[:2], attack="top-k", epsilon=8 / 255, steps=3, step_size=2 / 255,
                             k=20, beta=beta)
        got = attacked[(attacked.beta == beta) & (attacked.k == 20)].sort_values("image_id")
        assert got["spearman"].tolist() == pytest.approx(expected.metrics["spearman"].tolist(), abs=1e-12)
    one, two = (attacked[(attacked.beta == beta) & (attacked.k == 40)].sort_values("image_id")["dissimilarity"]
                for beta in (1.0, 30.0))
    assert one.tolist() != pytest.approx(two.tolist())   # beta changes the attack's steps


def test_the_defaults_of_k_and_beta_are_recorded_and_resume(cnn, batch, tmp_path):
    out = tmp_path / "out"
    grid = {name: value for name, value in GRID.items() if name != "k"}
    first = fg.sweep(cnn, batch[:2], out=out, figures=False, **grid)
    assert set(first["k"]) == {fg.get_attack("top-k").parameter("k").default_for(16, 16)}
    assert set(first[first.attack == "top-k"]["beta"]) == {10.0}
    config = json.loads((out / "config.json").read_text())
    assert config["grid"]["beta"] == [10.0] and "beta" not in config["settings"]
    again = fg.sweep(cnn, batch[:2], out=out, figures=False, beta=[10.0, 3.0], **grid)
    assert len(again) == 2 * 3 and again.attrs["complete"]
    assert len(read_results(out)) == 2 * 3   # beta 10 was not run again
    with pytest.raises(fg.ConfigError, match="beta must be > 0"):
        fg.sweep(cnn, batch[:2], beta=[0.0], **grid)
    with pytest.raises(fg.ConfigError, match="none of the attacks random-sign takes it"):
        fg.sweep(cnn, batch[:2], **{**grid, "attacks": ["random-sign"], "beta": 3.0})


def test_results_written_before_beta_was_an_axis_resume(cnn, batch, tmp_path):
    """A folder of an earlier version: no beta column, k and beta among the settings."""
    out = tmp_path / "out"
    fg.sweep(cnn, batch[:2], out=out, figures=False, **GRID)
    config = json.loads((out / "config.json").read_text())
    config["settings"].update(k=40, beta=None)
    for name in ("k", "beta"):
        del config["grid"][name]
    (out / "config.json").write_text(json.dumps(config))
    for part in (out / "results.parquet").glob("part-*.parquet"):
        pd.read_parquet(part).drop(columns="beta").to_parquet(part, index=False)
    rows = read_results(out)
    assert set(rows[rows.attack == "top-k"]["beta"]) == {10.0} and rows[rows.attack == "random-sign"]["beta"].isna().all()
    again = fg.sweep(cnn, batch[:2], out=out, figures=False, **GRID)
    assert again.attrs["complete"] and len(read_results(out)) == 4   # nothing computed twice
