"""`sweep()`: attacks over a grid of images x methods x attacks x eps x seeds, as tidy rows."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from ..attacks import attacks as all_attacks, get_attack
from ..defences import get_defence
from ..errors import ConfigError
from ..explainers import check_options, get_method
from ..validation import check_number
from . import grid
from .grid import BASELINE
from .engines import make_engine
from .results import FIGURES, KEY_COLUMNS, ResultStore, read_results
from .rows import COLUMNS, SCHEMA
from .sources import image_source

DEFAULT_ATTACKS = ("top-k", "mass-center", "random-sign")
AXES = ("methods", "attacks", "epsilons", "seeds", "defences")


@dataclass
class Progress:
    """How far a sweep is, given to `callback` after every attack step and every shard."""
    done: float            # rows finished, counting a running shard's steps as fractions
    total: int             # rows this call computes (rows already in `out` not counted)
    shards_done: int
    shards: int
    elapsed: float         # seconds since the sweep started
    rows: pd.DataFrame | None = None   # the rows a shard just finished (None after a step)

    @property
    def seconds_left(self) -> float | None:
        if self.done <= 0:
            return None
        return self.elapsed / self.done * max(self.total - self.done, 0)


def sweep(model, images, methods: Iterable[str] = ("gradient",),
          attacks: Iterable[str] = DEFAULT_ATTACKS, epsilons: Iterable[float] = (8 / 255,),
          steps: int = 100, step_size: float = 1 / 255, k: int | Iterable[int] | None = None,
          seeds: Iterable[int] = (0,), engine: str = "local", out: str | Path | None = None,
          callback: Callable[[Progress], object] | None = None, *,
          beta: float | Iterable[float] | None = None,
          defence: str | None = None, defences: Iterable[str | None] = (None,),
          method_options: dict | None = None,
          batch_size: int = 32, weights: str | Path | None = None, device=None,
          ray_address: str | None = None, size: int | None = None, progress: bool = False,
          figures: bool = True
          ) -> pd.DataFrame:
    """Attack every image with every configuration; one row per (image, method, attack,
    criterion, defence, epsilon, seed), with the metrics of rows.COLUMNS.

    model: a name ("bundled", "resnet18"), a TorchScript file, or (local engine) a module.
    images: a folder (flat, or one sub-folder per class; masks as NAME_mask.png beside the
    images), "synthetic:N", "samples", or a tensor (N,3,H,W). Unreadable images are left
    out with a warning and listed in `DataFrame.attrs["skipped"]`.
    epsilons, step_size: [0,1] units (8/255). random-sign runs as the baseline of each
    interpretation attack in `attacks` (its `criterion` column names which). k, beta: one
    value or a list (an axis of the grid, like epsilons); None: the attacks' defaults. An
    attack that does not declare a parameter (random sign has no beta) runs once, not once
    per value, with null in that column.
    out: a results directory: rows are written there shard by shard, rows already there are
    not computed again (a rerun resumes), figures are drawn at the end.
    callback(Progress): after every step (local engine) and every shard; False stops the
    sweep after the finished shards. batch_size: images per attack call. engine: "local"
    or "ray" (ray_address: an existing cluster; else a local one is started). size: load
    file images at size x size (default: the model's input size). defences: None and/or
    names from fg.defences(): each configuration runs with each. defence="beta-smoothing"
    is short for defences=(None, "beta-smoothing"): every configuration with and without it.
    progress: a bar of the rows done (tqdm.auto: a widget in Jupyter, text in a terminal).
    """
    if defence is not None:
        if tuple(defences) != (None,):
            raise ConfigError("give defence= (one defence, run with and without it) or "
                              "defences= (a list), not both")
        defences = (None, defence)
    methods, attacks = _names(methods, "methods"), _names(attacks, "attacks")
    for name in methods:
        get_method(name)
    for name in attacks:
        _check_attack(name)
    axes = {"methods": methods, "attacks": attacks,
            "epsilons": [check_number(float(eps), "epsilon", low=0.0, high=1.0)
                         for eps in _listed(epsilons, "epsilons")],
            "seeds": [check_number(seed, "seed", low=0, integer=True) for seed in _listed(seeds, "seeds")],
            "defences": [grid.NO_DEFENCE if defence in (None, grid.NO_DEFENCE) else get_defence(defence).name
                         for defence in _listed(defences, "defences")]}
    steps = check_number(steps, "steps", low=0, integer=True)
    step_size = check_number(step_size, "step_size", low=0.0, low_inclusive=False, high=1.0)
    batch_size = check_number(batch_size, "batch_size", low=1, integer=True)
    options = {name: check_options(get_method(name), dict(value))
               for name, value in (method_options or {}).items()}
    runner = make_engine(engine, model, weights, device, ray_address)
    try:
        info = runner.info
        settings = grid.Settings(info.name, steps, step_size, options)
        source = image_source(images, size or info.input_size, info.domain)
        axes.update(_parameter_axes(attacks, source, k=k, beta=beta))
        configurations = grid.configurations(*(axes[name] for name in AXES), _criteria(attacks),
                                             {name: axes[name] for name in grid.PARAMETER_AXES})
        wanted = {configuration.key(image_id) for configuration in configurations for image_id in source.ids}
        run = functools.partial(_run, runner, source, settings, configurations, batch_size,
                                callback=callback, progress=progress)
        if out is None:
            frame = _frame(run(done=set(), store=None))
        else:
            config = {"model": info.name, "weights": None if weights is None else str(weights),
                      "settings": {"steps": steps, "step_size": step_size, "method_options": options},
                      "grid": axes, "images": [source.description]}
            frame = _run_into(Path(out), config, run, source, engine, wanted, figures)
    finally:
        runner.close()
    frame.attrs["skipped"] = list(source.skipped)
    frame.attrs["complete"] = wanted <= set(_keys(frame))
    return frame


def _run_into(out: Path, config: dict, run, source, engine: str, wanted: set, figures: bool) -> pd.DataFrame:
    """Run what `out` lacks, writing each shard there; the wanted rows of `out`; figures."""
    with ResultStore(out, config) as store:
        store.record_skipped(source.skipped)
        rows = run(done=store.done(), store=store)
        store.record_skipped(source.skipped)
        store.record_run({"engine": engine, "images": source.description, "rows_written": len(rows)})
    everything = read_results(out)
    if figures and len(everything):
        from .report import write_figures
        write_figures(everything, out / FIGURES)
    chosen = pd.Series([key in wanted for key in _keys(everything)], index=everything.index, dtype=bool)
    return everything[chosen].reset_index(drop=True)


def _keys(frame: pd.DataFrame) -> list[tuple]:
    return [grid.row_key(row) for row in frame[KEY_COLUMNS].to_dict("records")]


def _run(runner, source, settings, configurations, batch_size, *, done, store, callback, progress
         ) -> list[dict]:
    """Run the shards not yet done; write each one's rows as it finishes; return the new rows."""
    shards = grid.shards(configurations, source.ids, settings, batch_size, done)
    total = sum(len(shard.image_ids) for shard in shards)
    state = Progress(0.0, total, 0, len(shards), 0.0)
    started = time.monotonic()
    rows_written: list[dict] = []
    bar = _bar(total) if progress else None

    def report(rows: pd.DataFrame | None = None) -> bool:
        state.elapsed = time.monotonic() - started
        state.rows = rows
        if bar is not None:
            bar.update(state.done - bar.n)
        return callback is None or callback(replace(state)) is not False

    def on_step(shard: grid.Shard, step: int) -> bool:
        state.done = finished_rows + len(shard.image_ids) * step / max(settings.steps, 1)
        return report()

    def on_rows(shard: grid.Shard, rows: list[dict]) -> bool:
        nonlocal finished_rows
        if store is not None:
            store.write(shard.id, rows)
        rows_written.extend(rows)
        finished_rows += len(shard.image_ids)
        state.done = finished_rows
        state.shards_done += 1
        return report(_frame(rows))

    finished_rows = 0
    try:
        runner.run(shards, source, settings, on_rows,
                   on_step if (callback is not None or bar is not None) else None)
    finally:
        if bar is not None:
            bar.close()
    return rows_written


def _bar(total: int):
    from ..progress import bar
    return bar(total, "sweep", "row",
               bar_format="{l_bar}{bar}| {n:.0f}/{total_fmt} rows [{elapsed}<{remaining}]")


def _frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return SCHEMA.empty_table().to_pandas()
    import pyarrow as pa
    return pa.Table.from_pylist([{name: row[name] for name in COLUMNS} for row in rows],
                                schema=SCHEMA).to_pandas()


def _parameter_axes(attacks: list[str], source, **given) -> dict[str, list]:
    """The values of each axis parameter (k, beta), checked, with None resolved to the
    default (k's depends on the image size): the values the rows record."""
    axes = {}
    for name, values in given.items():
        declared = [get_attack(attack).parameter(name) for attack in attacks]
        parameter = next((p for p in declared if p is not None), None)
        if parameter is None:
            if values is not None:
                raise ConfigError(f"{name}= is given but none of the attacks {', '.join(attacks)} "
                                  f"takes it")
            axes[name] = [None]
            continue
        values = [None] if values is None else _listed(values, name)
        if len(set(values)) != len(values):
            raise ConfigError(f"{name} lists a value twice: {values}")
        axes[name] = [parameter.check(value, name) if value is not None else _default(parameter, source)
                      for value in values]
    return axes


def _default(parameter, source):
    if parameter.default is not None or parameter.dynamic_default is None:
        return parameter.default
    batch = source.load(source.ids[:1]) if source.ids else None
    if batch is None or not len(batch.ids):
        return None
    return parameter.default_for(*batch.images.shape[-2:])


def _criteria(attacks: list[str]) -> dict[str, list[str]]:
    """Each attack's criteria: its own name; random sign's: every interpretation attack of the
    sweep (it is the baseline of each), or top-k when there is none."""
    compared = [name for name in attacks if get_attack(name).kind == "interpretation"]
    return {name: (compared or ["top-k"]) if name == BASELINE else [name] for name in attacks}


def _check_attack(name: str) -> None:
    """A ConfigError for an attack that needs a per-image input a sweep cannot give (a region)."""
    needs = _needed_inputs(name)
    if needs:
        runnable = [attack for attack in all_attacks() if not _needed_inputs(attack)]
        raise ConfigError(f"a sweep cannot run {name!r}: it needs {', '.join(needs)}= for every image; "
                          f"choose among {', '.join(runnable)}")


def _needed_inputs(name: str) -> list[str]:
    return [p.name for p in get_attack(name).parameters if p.kind in ("mask", "map") and not p.optional]


def _names(values, what: str) -> list[str]:
    values = [values] if isinstance(values, str) else list(_listed(values, what))
    if len(set(values)) != len(values):
        raise ConfigError(f"{what} lists a name twice: {values}")
    return [str(value) for value in values]


def _listed(values, what: str) -> list:
    values = [values] if isinstance(values, (str, int, float)) or values is None else list(values)
    if not values:
        raise ConfigError(f"{what} is empty: give at least one")
    return values
