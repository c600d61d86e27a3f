"""The experiments page: a sweep over many images, its curves filling in as rows arrive.

Results go to a folder under the results root (FRAGILITY_RESULTS, default
~/fragility-results), one per configuration: the same configuration again resumes it.
Earlier results are opened from that root only, never from a path typed in the page.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

import fragility as fg
from fragility.experiments import report

from ..components import live, results_quota, state
from ..components.choices import Choices
from ..components.failures import escape

ROOT_VARIABLE = "FRAGILITY_RESULTS"
DEFAULT_ROOT = Path.home() / "fragility-results"
SOURCES = {"synthetic": "Generated shapes (with masks)", "samples": "Sample images"}
EPSILONS = [0.5, 1, 2, 4, 8, 16]
# The default finishes in well under a minute on a laptop CPU: 8 images x 4 eps x 3 attacks.
DEFAULTS = dict(images=8, methods=["gradient"], attacks=["top-k", "mass-center", "random-sign"],
                epsilons=[1, 2, 4, 8], steps=40)
STATISTICS_NOTE = (
    "A point is the mean over the images whose run found a label-keeping perturbation (a run "
    "that found none keeps the image's own maps: Spearman 1): **n** counts those images, "
    "**found** is the share of runs that found one, marked n/images on a point where some did "
    "not. Seeds are averaged within an image first; the band is the mean ± t(0.975, n−1) "
    "standard errors. The lower panels and the `− random sign` columns compare attack and "
    "random sign on the images where both found one (paired_n).")
SWEEP_ATTACKS = [name for name in fg.attacks() if name not in ("targeted", "target-map")]


def results_root() -> Path:
    return Path(os.environ.get(ROOT_VARIABLE) or DEFAULT_ROOT).expanduser()


def render(choices: Choices) -> None:
    st.title("Experiments: how fragile over many images?")
    st.markdown(
        "One image can mislead. As in the paper's Figure 3, attack **many images** at several "
        "budgets ε and plot the mean similarity of the maps before and after, with a 95% "
        "confidence band, **each attack beside random sign noise of the same size** (dashed), "
        "and below it attack minus random sign on the same images, with its paired band. "
        "The same sweep runs from the command line (`fragility sweep`) and from Python "
        "(`fg.sweep`), on this machine or a Ray cluster.")
    new, earlier = st.tabs(["New sweep", "Open earlier results"])
    with new:
        if choices.model is None:
            for message in choices.errors:
                st.error(message)
        else:
            _new_sweep(choices)
    with earlier:
        _earlier()


# ---------------------------------------------------------------- a new sweep

def _new_sweep(choices: Choices) -> None:
    left, middle, right = st.columns(3)
    source = left.radio("Images", list(SOURCES), format_func=SOURCES.get, key="sweep_source",
                        horizontal=True)
    count = left.slider("Generated images", 2, 128, DEFAULTS["images"], key="sweep_images",
                        disabled=source != "synthetic")
    methods = middle.multiselect("Methods", fg.methods(), DEFAULTS["methods"], key="sweep_methods",
                                 format_func=lambda name: fg.get_method(name).title)
    attacks = middle.multiselect("Attacks (random-sign: the baseline)", SWEEP_ATTACKS,
                                 DEFAULTS["attacks"], key="sweep_attacks")
    defences = left.multiselect("Defences (a row of panels each)", ["none", *fg.defences()], ["none"],
                                key="sweep_defences")
    epsilons = right.multiselect("ε (of 255)", EPSILONS, DEFAULTS["epsilons"], key="sweep_epsilons")
    steps = right.number_input("Steps", 1, 1000, DEFAULTS["steps"], key="sweep_steps")
    if not (methods and attacks and epsilons and defences):
        st.info("Choose at least one method, attack, defence (or none) and ε.")
        return
    images = f"synthetic:{count}" if source == "synthetic" else "samples"
    settings = {"model": choices.model_key, "images": images, "methods": methods, "attacks": attacks,
                "epsilons": sorted(epsilons), "steps": int(steps), "defences": defences}
    key = state.config_key({"page": "experiments", **settings})
    out = results_root() / f"{choices.model.name}-{key[:12]}"
    run_column, note_column = st.columns([1, 4], vertical_alignment="center")
    if run_column.button("Run sweep", icon=":material/play_arrow:", type="primary", key="run_sweep",
                         width="stretch"):
        state.start_job(key, _work(choices.model, settings, out), total=0)
    note_column.caption(f"Results go to `{out.name}` under the results folder; the same settings "
                        "again resume them. The folder keeps at most "
                        f"{results_quota.quota_mb():,} MB: when a sweep ends, the oldest results "
                        "are removed first.")
    job = state.jobs().get(key)
    if job is None:
        return
    if job.running:
        _live(job)
    elif job.error:
        st.error(job.error)
    else:
        _finished(job, out)


def _work(model: fg.Model, settings: dict, out: Path):
    arguments = dict(methods=settings["methods"], attacks=settings["attacks"],
                     epsilons=[eps / 255 for eps in settings["epsilons"]], steps=settings["steps"],
                     defences=settings["defences"])

    def work(job: state.Job):
        job.phase = "preparing"
        results_quota.link_script(out.parent, out)

        def progress(update) -> bool:
            job.phase = "attacking"
            job.total, job.step = update.total, update.done
            if update.rows is not None:
                job.partial.append(update.rows)
            return not job.stop.is_set()
        rows = fg.sweep(model, settings["images"], out=out, callback=progress, **arguments)
        rows.attrs["removed"] = results_quota.prune(out.parent, keep=out)
        return rows
    return work


def _live(job: state.Job) -> None:
    def content():
        parts = list(job.partial)
        if parts:
            _curves(pd.concat(parts, ignore_index=True), "live")
        else:
            st.caption("The curves appear when the first attack call has finished.")
    live.show(job, "stop_sweep", _progress_text, content)


def _progress_text(job: state.Job) -> str:
    return f"{job.phase}: {job.step:.0f} of {job.total} rows{live.time_left_text(job)}"


def _finished(job: state.Job, out: Path) -> None:
    rows = job.result
    if job.stopped or not rows.attrs.get("complete", True):
        st.warning(f"Stopped: {len(rows)} rows are saved; run the same settings again to finish.")
    else:
        st.success(f"Finished {len(rows)} rows in {job.elapsed():.1f} s.")
    for item in rows.attrs.get("skipped", []):
        st.warning(f"Skipped {item['image_id']}: {item['reason']}")
    removed = rows.attrs.get("removed", [])
    if removed:
        st.info(f"The results folder was over its {results_quota.quota_mb():,} MB, so the oldest "
                f"results were removed: {', '.join(f'`{name}`' for name in removed)}.")
    if len(rows):
        _results(rows, out, "new")


# ---------------------------------------------------------------- earlier results

def _earlier() -> None:
    root = results_root()
    folders = _result_folders(root)
    if not folders:
        st.caption(f"No results yet under the results folder (`{ROOT_VARIABLE}`).")
        return
    names = [folder.name for folder in folders]
    if st.session_state.get("sweep_open") not in names:    # removed by the quota, say
        st.session_state.pop("sweep_open", None)
    described = {name: _describe(root / name) for name in names}
    name = st.selectbox("Results", names, key="sweep_open", format_func=described.get)
    folder = _inside(root, name)
    if folder is None:
        st.error(f"{name} is not a results folder under the results root.")
        return
    try:
        rows = fg.experiments.read_results(folder)
    except fg.FragilityError as error:    # a damaged or foreign part file
        st.error(escape(str(error).replace(str(root), "the results folder")))
        return
    if not len(rows):
        st.info("This sweep has no finished rows yet.")
        return
    _results(rows, folder, "earlier")


def _result_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    folders = [path for path in root.iterdir() if _inside(root, path.name) is not None]
    return sorted(folders, key=lambda path: path.stat().st_mtime, reverse=True)


def _inside(root: Path, name: str) -> Path | None:
    """root/name when it is a results folder that really lies under root (no links out)."""
    folder = (root / name).resolve()
    if folder.parent != root.resolve() or not (folder / "config.json").is_file():
        return None
    return folder


def _describe(folder: Path) -> str:
    try:
        config = fg.experiments.read_config(folder)
    except (fg.FragilityError, ValueError, OSError):
        return folder.name
    grid = config.get("grid", {})
    return (f"{folder.name}: {', '.join(config.get('images', []))} · {', '.join(grid.get('methods', []))}"
            f" · {config.get('settings', {}).get('steps')} steps")


# ---------------------------------------------------------------- drawing

def _results(rows: pd.DataFrame, folder: Path, where: str) -> None:
    _curves(rows, where)
    st.caption(STATISTICS_NOTE)
    st.dataframe(report.summary(rows), hide_index=True, key=f"sweep_summary_{where}")
    _downloads(rows, folder, where)


def _curves(rows: pd.DataFrame, where: str) -> None:
    figure = report.curves(rows)
    figure.update_layout(template=None, width=None)
    st.plotly_chart(figure, key=f"sweep_curves_{where}", config={"displayModeBar": False})


def _downloads(rows: pd.DataFrame, folder: Path, where: str) -> None:
    parquet = io.BytesIO()
    rows.to_parquet(parquet, index=False)
    columns = st.columns(3)
    columns[0].download_button("Rows (Parquet)", parquet.getvalue(), file_name="results.parquet",
                               mime="application/vnd.apache.parquet", key=f"sweep_parquet_{where}",
                               on_click="ignore")
    figures = folder / "figures"
    png = figures / "curves.png"
    if png.is_file():
        columns[1].download_button("Curves (PNG)", png.read_bytes(), file_name="curves.png",
                                   mime="image/png", key=f"sweep_png_{where}", on_click="ignore")
    if figures.is_dir():
        columns[2].download_button("All figures (HTML and PNG, zip)", _zipped(figures),
                                   file_name="figures.zip", mime="application/zip",
                                   key=f"sweep_zip_{where}", on_click="ignore")


def _zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                archive.write(path, arcname=path.name)
    return buffer.getvalue()
