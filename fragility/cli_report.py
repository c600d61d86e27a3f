"""What `fragility attack` writes: the panel, the JSON record and the printed summary."""

from __future__ import annotations

from PIL import Image

from . import rendering
from ._json import jsonable

SIMILARITY = (("spearman", "Spearman", "{:.3f}"), ("top_k_intersection", "top-k intersection", "{:.3f}"),
              ("center_shift", "center shift (px)", "{:.2f}"))


def _value(metrics: dict | None, name: str) -> float | None:
    return None if metrics is None or name not in metrics else float(metrics[name][0])


def attack_panel(model, image, result, baseline, opacity: float = 0.65) -> Image.Image:
    """Original, perturbed, perturbation, both maps (and the target map), with captions, a
    title naming the run and a line of metrics beside the random-sign baseline's."""
    config = result.config
    before = model.label_name(int(result.labels[0]))
    after = model.label_name(int(result.perturbed_labels[0]))
    epsilon = config["epsilon"]
    tiles = rendering.attack_tiles(image, result.perturbed[0], result.original_maps[0],
                                   result.perturbed_maps[0], config, before, after, size=320,
                                   opacity=opacity)
    found = bool(result.found[0])
    title = (f"{config['method']} under {config['attack']}, eps {epsilon * 255:g}/255, "
             f"{result.steps_run} steps, k = {config['k']}")
    if not found:
        return rendering.panel(tiles, title, f"no label-keeping perturbation found in {result.steps_run} "
                                             "steps: the perturbed tiles show the original")
    parts = []
    for name, label, form in SIMILARITY:
        text = f"{label} {form.format(_value(result.metrics, name))}"
        if baseline is not None:
            text += f" (random sign {form.format(_value(baseline.metrics, name))})"
        parts.append(text)
    return rendering.panel(tiles, title, " · ".join(parts))


def attack_record(image_path, model, result, baseline) -> dict:
    return {
        "image": str(image_path), "config": result.config,
        "labels": {"original": model.label_name(int(result.labels[0])),
                   "perturbed": model.label_name(int(result.perturbed_labels[0]))},
        "found": bool(result.found[0]), "labels_kept": bool(result.labels_kept[0]),
        "metrics": {name: value[0].item() for name, value in result.metrics.items()},
        "random_sign": None if baseline is None else {
            "config": baseline.config, "found": bool(baseline.found[0]),
            "metrics": {name: value[0].item() for name, value in baseline.metrics.items()}},
        "noise_floor": None if result.noise_floor is None else
        {name: value[0].item() for name, value in result.noise_floor.items()},
        "steps_run": result.steps_run, "history": jsonable(result.history),
    }


def attack_summary(model, result, baseline) -> str:
    """A small table: each metric for the attack, the random-sign baseline and the noise floor."""
    if not bool(result.found[0]):
        return (f"no label-keeping perturbation found in {result.steps_run} steps: every iterate "
                "changed the predicted label, so there is no result to report")
    columns = ["attack"] + (["random sign"] if baseline is not None else []) + \
        (["noise floor"] if result.noise_floor is not None else [])
    rows = [f"{'':22}" + "".join(f"{c:>14}" for c in columns)]
    for name, title, form in SIMILARITY:
        values = [result.metrics] + ([baseline.metrics] if baseline is not None else []) + \
            ([result.noise_floor] if result.noise_floor is not None else [])
        rows.append(f"{title:22}" + "".join(f"{form.format(_value(v, name)):>14}" for v in values))
    label = model.label_name(int(result.labels[0]))
    rows.append(f"label {label!r} kept; eps {result.config['epsilon'] * 255:g}/255, {result.steps_run} steps")
    return "\n".join(rows)
