"""A sweep's results directory: Parquet rows written shard by shard, so that a rerun resumes.

    DIR/config.json         the sweep's settings, its grid (grown by every run) and the
                            images that could not be read
    DIR/results.parquet/    one part file per finished shard: pandas.read_parquet(DIR /
                            "results.parquet") and DuckDB's read_parquet('DIR/results.parquet/*.parquet')
                            read them as one table
    DIR/figures/            drawn from the rows (report.py)

A part file is written under a temporary name and renamed into place when complete, so a
crash or Ctrl-C leaves whole shards only; a rerun skips the rows already there. One sweep
at a time writes to a directory (a lock file says so).
"""

from __future__ import annotations

import json
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..attacks import attacks, get_attack
from ..attacks.parameters import BETA
from ..errors import ConfigError
from .grid import PARAMETER_AXES, row_key
from .rows import COLUMNS, SCHEMA

RESULTS = "results.parquet"
CONFIG = "config.json"
FIGURES = "figures"
LOCK = ".lock"
PART = "part-{}.parquet"
# Settings that must match for rows to belong in the same table; the grid may grow.
FIXED = ("model", "weights", "settings")
KEY_COLUMNS = ["image_id", "method", "attack", "criterion", "defence", "epsilon", "seed", "k", "beta"]
# Columns every version's parts have (beta came later): a part without them is not a sweep's.
IDENTITY_COLUMNS = KEY_COLUMNS[:7]


class DamagedPart(ConfigError):
    """A part file of a results directory that cannot be read as a sweep's rows."""

    def __init__(self, path: Path, why: str):
        super().__init__(f"{path} {why}; move it out of {path.parent} (a sweep run on this "
                         "folder sets it aside by itself and computes its rows again)")
        self.path = path


def read_results(out: str | Path) -> pd.DataFrame:
    """Every row in the results directory `out` (empty, with the columns, when there are none).

    A part that is not a readable Parquet file of a sweep's rows raises `DamagedPart`,
    naming the file.
    """
    return _with_beta(_read_parts(_parts(Path(out) / RESULTS)).to_pandas(), Path(out))


def _with_beta(frame: pd.DataFrame, out: Path) -> pd.DataFrame:
    """Rows written before beta was a column (it was one setting of the sweep) get the beta
    their attack ran with; random sign keeps null (it has none)."""
    path = out / CONFIG
    try:
        old = _old_beta(_upgraded(_config(path))) if path.is_file() else None
    except ConfigError:    # a broken config.json: its rows are read as they are
        old = None
    if old is None:
        return frame
    missing = frame["beta"].isna() & frame["attack"].map(lambda name: _declares(name, "beta"))
    frame.loc[missing, "beta"] = old
    return frame


def _declares(attack: str, name: str) -> bool:
    return attack in attacks() and get_attack(attack).parameter(name) is not None


def _old_beta(config: dict) -> float | None:
    return config.get("beta_of_rows_without_beta")


def _upgraded(config: dict) -> dict:
    """A config.json of a version whose k and beta were settings, with them as grid axes
    (and the beta its rows ran with, which they do not record)."""
    settings = dict(config.get("settings", {}))
    if not any(name in settings for name in PARAMETER_AXES):
        return config
    grid = dict(config.get("grid", {}))
    for name in PARAMETER_AXES:
        value = settings.pop(name, None)
        if value is not None and name not in grid:
            grid[name] = [value]
    beta = config["settings"].get("beta")
    return {**config, "settings": settings, "grid": grid,
            "beta_of_rows_without_beta": BETA.default if beta is None else beta}


def read_config(out: str | Path) -> dict:
    path = Path(out) / CONFIG
    if not path.is_file():
        raise ConfigError(f"{out} is not a sweep's results directory (it has no {CONFIG})")
    return _config(path)


def _config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid JSON ({error}); restore it, or delete it to "
                          "start the folder's configuration afresh (the rows in "
                          f"{path.parent / RESULTS} are kept)") from None
    if not isinstance(config, dict) or not isinstance(config.get("grid"), dict):
        raise ConfigError(f"{path} is not a sweep's configuration (no grid); restore it, or "
                          "delete it to start the folder's configuration afresh")
    return config


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob(PART.format("*"))) if folder.is_dir() else []


def _read_parts(parts: list[Path], columns: list[str] | None = None) -> pa.Table:
    """The parts' rows as one table of SCHEMA (columns an older part lacks are null)."""
    schema = SCHEMA if columns is None else pa.schema([SCHEMA.field(name) for name in columns])
    tables = [_read_part(part, schema) for part in parts]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _read_part(part: Path, schema: pa.Schema) -> pa.Table:
    try:
        names = pq.read_schema(part).names
    except (pa.ArrowException, OSError) as error:
        raise DamagedPart(part, f"is not a readable Parquet file ({_reason(error)})") from None
    missing = [name for name in IDENTITY_COLUMNS if name not in names]
    if missing:
        raise DamagedPart(part, f"is not a part of a sweep's results (it has no column "
                                f"{', '.join(missing)})")
    try:
        table = pq.read_table(part, columns=[name for name in schema.names if name in names])
        return pa.table({name: table[name].cast(schema.field(name).type) if name in names
                         else pa.nulls(len(table), schema.field(name).type)
                         for name in schema.names}, schema=schema)
    except (pa.ArrowException, OSError) as error:
        raise DamagedPart(part, f"is damaged ({_reason(error)})") from None


def _reason(error: Exception) -> str:
    return str(error).splitlines()[0][:160] or type(error).__name__


class ResultStore:
    """Writes one sweep's rows into `out`; use as a context manager (it holds the lock)."""

    def __init__(self, out: str | Path, config: dict):
        self.out = Path(out)
        self.parts = self.out / RESULTS
        self.config = config
        self._lock = None

    def __enter__(self) -> ResultStore:
        self.parts.mkdir(parents=True, exist_ok=True)
        self._lock = _lock(self.out / LOCK)
        for leftover in self.parts.glob(".*.tmp"):   # a shard cut off mid-write
            leftover.unlink()
        self.config = _merged(self.out, self.config)
        self._write_config()
        return self

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def done(self) -> set[tuple]:
        """The keys of the rows already written (grid.row_key).

        A damaged or foreign part is set aside (renamed, not deleted) with a warning, so
        that its rows are computed again.
        """
        while True:
            try:
                table = _read_parts(_parts(self.parts), columns=KEY_COLUMNS).to_pandas()
                return {row_key(row) for row in _with_beta(table, self.out).to_dict("records")}
            except DamagedPart as damaged:
                aside = damaged.path.with_name(f"damaged-{damaged.path.name}.bad")
                os.replace(damaged.path, aside)
                warnings.warn(f"{damaged.path} could not be read, so it was set aside as "
                              f"{aside.name} and its rows are computed again", stacklevel=2)

    def write(self, shard_id: str, rows: list[dict]) -> None:
        """The rows of one finished shard, all or none (written aside, then renamed)."""
        table = pa.Table.from_pylist([{name: row[name] for name in COLUMNS} for row in rows], schema=SCHEMA)
        final = self.parts / PART.format(shard_id)
        temporary = self.parts / f".{final.name}.tmp"
        with open(temporary, "wb") as handle:
            pq.write_table(table, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)

    def record_skipped(self, skipped: list[dict]) -> None:
        known = {item["image_id"] for item in self.config["skipped_images"]}
        self.config["skipped_images"] += [item for item in skipped if item["image_id"] not in known]
        self._write_config()

    def record_run(self, run: dict) -> None:
        self.config["runs"].append({"finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                    **run})
        self._write_config()

    def _write_config(self) -> None:
        temporary = self.out / f".{CONFIG}.tmp"
        temporary.write_text(json.dumps(self.config, indent=1) + "\n")
        os.replace(temporary, self.out / CONFIG)


def _merged(out: Path, config: dict) -> dict:
    """`config` joined with the one already in `out`: the same fixed settings, grids united."""
    config = {**config, "skipped_images": config.get("skipped_images", []), "runs": []}
    path = out / CONFIG
    if not path.is_file():
        return config
    before = _upgraded(_config(path))
    for name, old, new in _differences(before, config):
        raise ConfigError(f"{out} holds results of a sweep with {name}={old!r}, not {new!r}: use "
                          f"another output folder, or {name}={old!r} to add to those results")
    grid = {name: _union(before["grid"].get(name, []), values) for name, values in config["grid"].items()}
    images = _union(before.get("images", []), config.get("images", []))
    return {**before, "grid": grid, "images": images,
            "skipped_images": before.get("skipped_images", []), "runs": before.get("runs", [])}


def _differences(before: dict, config: dict) -> list[tuple[str, object, object]]:
    """(name, before, now) of each fixed setting that differs."""
    found = []
    for name in FIXED:
        old, new = before.get(name), config.get(name)
        if isinstance(old, dict) and isinstance(new, dict):
            found += [(key, old.get(key), new.get(key)) for key in sorted(old.keys() | new.keys())
                      if old.get(key) != new.get(key)]
        elif old != new:
            found.append((name, old, new))
    return found


def _union(first: list, second: list) -> list:
    return first + [item for item in second if item not in first]


def _lock(path: Path):
    """An exclusive lock on `path`, released when the returned file is closed (or the process ends)."""
    handle = open(path, "a")
    try:
        import fcntl
    except ImportError:   # not on POSIX: no lock
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ConfigError(f"another sweep is writing to {path.parent}; wait for it to finish or use "
                          "another output folder") from None
    return handle
