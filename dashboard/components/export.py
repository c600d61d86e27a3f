"""Downloads of a finished run: images, per-step CSV, JSON and a reproducing snippet."""

from __future__ import annotations

import csv
import io
import json

import torch

from .choices import Choices


def _plain(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


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
        "config": _plain(result.config),
        "metrics": _plain(result.metrics),
        "random_sign_metrics": _plain(baseline.metrics) if baseline is not None else None,
        "labels": _plain(result.labels),
        "perturbed_labels": _plain(result.perturbed_labels),
        "steps_run": result.steps_run,
        "stopped_early": result.stopped_early,
        "surrogate": result.surrogate,
    }
    return json.dumps(document, indent=2)


def snippet(choices: Choices) -> str:
    """Python that reproduces the run with the public API."""
    arguments = choices.attack_arguments()
    lines = ["import fragility as fg", "import torch", "",
             f"model = {choices.model_code}",
             f"image = {choices.image_code}",
             "images = image[None]"]
    extra = []
    if choices.mask is not None:
        lines.append("mask = " + choices.image_code.replace(".load(", ".load_mask("))
        extra.append("mask=mask")
    if choices.region is not None:
        lines.append(choices.region_code)
        extra.append("region=region")
    if choices.target_map is not None:
        lines.append(choices.target_code)
        extra.append("target_map=target_map")
    call = [f"method={arguments['method']!r}", f"attack={arguments['attack']!r}",
            f"epsilon={choices.epsilon255:g} / 255", f"steps={arguments['steps']}",
            f"step_size={choices.step_size255:g} / 255", f"k={arguments['k']}",
            f"beta={arguments['beta']:g}", f"seed={arguments['seed']}",
            f"method_options={arguments['method_options']!r}", *extra]
    lines += ["", "result = fg.attack(model, images,", *[f"                   {c}," for c in call],
              "                   )",
              "for name, values in result.metrics.items():",
              "    print(name, values.tolist())"]
    return "\n".join(lines) + "\n"
