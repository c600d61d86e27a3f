"""Downloads of a finished run: images, per-step CSV, JSON, a reproducing snippet and an HTML report."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import fragility as fg
from fragility._json import jsonable

from .choices import Choices


def history_csv(history: list[dict], baseline: list[dict]) -> str:
    """One line per step for image 0; random-sign columns prefixed `random_`."""
    by_step = {row["step"]: {"step": row["step"]} for row in history}
    for prefix, rows in (("", history), ("random_", baseline)):
        for row in rows:
            line = by_step.setdefault(row["step"], {"step": row["step"]})
            for name, value in row.items():
                if name != "step":
                    line[prefix + name] = value[0] if isinstance(value, list) else value
    columns = ["step"] + sorted({name for line in by_step.values() for name in line} - {"step"})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for step in sorted(by_step):
        writer.writerow(by_step[step])
    return buffer.getvalue()


def result_json(result, baseline, choices: Choices) -> str:
    document = {
        "model": choices.model_key,
        "image": choices.sample.name if choices.sample is not None else "uploaded image",
        "config": jsonable(result.config),
        "found": jsonable(result.found),
        "metrics": jsonable(result.metrics),
        "noise_floor": jsonable(result.noise_floor),
        "random_sign_config": jsonable(baseline.config) if baseline is not None else None,
        "random_sign_metrics": jsonable(baseline.metrics) if baseline is not None else None,
        "labels": jsonable(result.labels),
        "perturbed_labels": jsonable(result.perturbed_labels),
        "steps_run": result.steps_run,
        "stopped_early": result.stopped_early,
        "surrogate": result.surrogate,
    }
    return json.dumps(document, indent=2)


def report_page(result, baseline, choices: Choices) -> str:
    """fg.report of the run with its random-sign baseline and the page's own snippet."""
    if baseline is not None and result.baseline is None:
        result = dataclasses.replace(result, baseline=baseline)    # the job's result stays as it is
    return fg.report(result, snippet=snippet(choices))


def _argument(parameter, value) -> str:
    """`value` written as Python in the units a person reads (8 / 255 for eps 8)."""
    if parameter.kind == "float" and parameter.scale != 1:
        return f"{value * parameter.scale:g} / {parameter.scale:g}"
    return repr(value)


def snippet(choices: Choices) -> str:
    """Python that reproduces the run with the public API, written from the declarations."""
    spec = fg.get_attack(choices.attack)
    lines = ["import fragility as fg", "import torch", "",
             f"model = {choices.model_code}",
             f"image = {choices.image_code}",
             "images = image[None]"]
    call = [f"method={choices.method!r}", f"attack={choices.attack!r}"]
    for name, value in choices.parameters.items():
        parameter = spec.parameter(name)
        if parameter.kind == "mask":
            lines.append(choices.region_code)
            call.append(f"{name}=region")
        elif parameter.kind == "map":
            lines.append(choices.target_code)
            call.append(f"{name}=target_map")
        else:
            call.append(f"{name}={_argument(parameter, value)}")
    call.append(f"method_options={choices.method_options!r}")
    if choices.target is not None:
        call.append(f"target={choices.target!r}")
    if choices.defence is not None:
        call += [f"defence={choices.defence!r}", f"defence_options={choices.defence_options!r}"]
    if choices.mask is not None:
        lines.append("mask = " + choices.image_code.replace(".load(", ".load_mask("))
        call.append("mask=mask")
    lines += ["", "result = fg.attack(model, images,", *[f"                   {c}," for c in call],
              "                   )",
              "print('found:', result.found.tolist())",
              "for name, values in result.metrics.items():",
              "    print(name, values.tolist())"]
    return "\n".join(lines) + "\n"
