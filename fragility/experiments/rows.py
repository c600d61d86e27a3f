"""One shard -> tidy rows: one attack call on a chunk of images, one row per image.

Both engines call `run_shard`, the local one in this process and Ray's in its workers, so
a row means the same whichever engine made it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pyarrow as pa
import torch

from .. import metrics
from ..attacks import attack
from ..models.model import Model, evaluation
from .grid import BASELINE, NO_DEFENCE, Settings, Shard
from .sources import Batch

# Every column of the results, in order, with its Parquet type.
COLUMNS = {
    "image_id": pa.string(),           # file path in the folder, synthetic-00007, image-00003, ...
    "true_class": pa.string(),         # the class sub-folder or generated class; null if unknown
    "model": pa.string(),
    "method": pa.string(),
    "attack": pa.string(),
    "criterion": pa.string(),          # the dissimilarity that picked the perturbation (see grid.py)
    "defence": pa.string(),            # "none" without a defence
    "epsilon": pa.float64(),           # L-inf radius in [0,1] units (8/255)
    "epsilon_255": pa.float64(),       # the same on the 0-255 scale (8)
    "seed": pa.int64(),
    "steps": pa.int64(),
    "step_size": pa.float64(),         # [0,1] units
    "k": pa.int64(),
    "beta": pa.float64(),              # the softplus surrogate's beta; null for attacks without one
    "spearman": pa.float64(),          # of the original and the perturbed saliency map
    "top_k_intersection": pa.float64(),
    "center_shift": pa.float64(),      # pixels between the maps' centers of mass
    "pearson": pa.float64(),
    "ssim": pa.float64(),
    "dissimilarity": pa.float64(),     # the criterion's value for the returned perturbation
    "mass_in_mask_before": pa.float64(),   # share of the map on the object; null without a mask
    "mass_in_mask_after": pa.float64(),
    # SmoothGrad and other stochastic methods: the same metrics between two noise draws on the
    # unperturbed image, the floor any attack's numbers sit on; null for deterministic methods.
    "noise_floor_spearman": pa.float64(),
    "noise_floor_top_k_intersection": pa.float64(),
    "noise_floor_center_shift": pa.float64(),
    # With a defence: how close the defended map of the original stays to the undefended one.
    "faithfulness_spearman": pa.float64(),
    "faithfulness_top_k_intersection": pa.float64(),
    "label_kept": pa.bool_(),          # the perturbed image has the original's predicted class
    "found": pa.bool_(),               # some iterate was accepted (see AttackResult.found)
    "label": pa.string(),              # the original image's predicted class
    "label_index": pa.int64(),
    "perturbed_label": pa.string(),
    "confidence_before": pa.float64(),  # softmax probability of `label` at the original
    "confidence_after": pa.float64(),   # of `perturbed_label` at the perturbed image
    "steps_run": pa.int64(),
    "seconds": pa.float64(),           # the attack call's wall time over its images
    "shard": pa.string(),              # the attack call (part file) the row came from
}
SCHEMA = pa.schema(list(COLUMNS.items()))

StepCallback = Callable[[int, dict], object]


def run_shard(model: Model, settings: Settings, shard: Shard, batch: Batch,
              callback: StepCallback | None = None) -> list[dict] | None:
    """The rows of one attack call on `batch`; None when `callback` stopped it (a partial
    result is not a row)."""
    configuration = shard.configuration
    extra = {**configuration.parameters(), **attack_options(configuration)}
    start = time.perf_counter()
    result = attack(model, batch.images, method=configuration.method, attack=configuration.attack,
                    epsilon=configuration.epsilon, steps=settings.steps, step_size=settings.step_size,
                    seed=configuration.seed, callback=callback,
                    method_options=settings.options(configuration.method), **extra)
    if result.stopped_early:
        return None
    before = _probabilities(model, batch.images.to(result.perturbed.dtype)).gather(1, result.labels.reshape(-1, 1))[:, 0]
    after = _probabilities(model, result.perturbed).gather(1, result.perturbed_labels.reshape(-1, 1))[:, 0]
    values = {name: value.tolist() for name, value in result.metrics.items()}
    floor = {name: value.tolist() for name, value in (result.noise_floor or {}).items()}
    absent = [None] * len(batch.ids)
    inside_before, inside_after = _mass_in_masks(result, batch.masks)
    labels, perturbed_labels = result.labels.tolist(), result.perturbed_labels.tolist()
    kept, found = result.labels_kept.tolist(), result.found.tolist()
    before, after = before.tolist(), after.tolist()
    seconds = (time.perf_counter() - start) / len(batch.ids)
    return [{
        "image_id": image_id, "true_class": batch.classes[i], "model": settings.model,
        "method": configuration.method, "attack": configuration.attack,
        "criterion": configuration.criterion, "defence": configuration.defence,
        "epsilon": configuration.epsilon, "epsilon_255": round(configuration.epsilon * 255, 6),
        "seed": configuration.seed, "steps": settings.steps, "step_size": settings.step_size,
        "k": result.config["k"], "beta": configuration.beta,
        **{name: values[name][i] for name in ("spearman", "top_k_intersection", "center_shift",
                                               "pearson", "ssim", "dissimilarity")},
        "mass_in_mask_before": inside_before[i], "mass_in_mask_after": inside_after[i],
        **{f"noise_floor_{name}": floor.get(name, absent)[i]
           for name in ("spearman", "top_k_intersection", "center_shift")},
        **{name: values.get(name, absent)[i]
           for name in ("faithfulness_spearman", "faithfulness_top_k_intersection")},
        "label_kept": kept[i], "found": found[i],
        "label": model.label_name(labels[i]), "label_index": labels[i],
        "perturbed_label": model.label_name(perturbed_labels[i]),
        "confidence_before": before[i], "confidence_after": after[i],
        "steps_run": result.steps_run, "seconds": seconds, "shard": shard.id,
    } for i, image_id in enumerate(batch.ids)]


def attack_options(configuration) -> dict:
    """Keyword arguments of attack() that only some configurations take."""
    options = {"criterion": configuration.criterion} if configuration.attack == BASELINE else {}
    if configuration.defence != NO_DEFENCE:
        options["defence"] = configuration.defence
    return options


def _probabilities(model: Model, images: torch.Tensor) -> torch.Tensor:
    with evaluation(model), torch.no_grad():
        return model(images.to(model.device)).softmax(dim=-1)


def _mass_in_masks(result, masks: list[torch.Tensor | None]) -> tuple[list, list]:
    """Per image, the share of each map on its mask; None where the image has no mask."""
    before, after = [], []
    for index, mask in enumerate(masks):
        if mask is None:
            before.append(None)
            after.append(None)
            continue
        mask = mask.to(result.original_maps.device)
        before.append(metrics.mass_in_mask(result.original_maps[index:index + 1], mask).item())
        after.append(metrics.mass_in_mask(result.perturbed_maps[index:index + 1], mask).item())
    return before, after
