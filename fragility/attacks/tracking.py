"""Best-iterate tracking, live metrics and the per-step history of an attack run."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..metrics import average_ranks, center_of_mass, correlation, top_k_mask
from .registry import Objective, Reference

# Per-image values recorded each step, for the best iterate so far and the current one.
TRACKED = ("dissimilarity", "spearman", "top_k_intersection", "center_shift", "labels_kept")


class Tracker:
    """Keeps, per image, the best iterate so far and records one history row per step.

    With `keep_label` (Algorithm 1 and random sign) an iterate replaces the best one only
    when the real network still predicts the original label and its dissimilarity is larger
    (the first such iterate always does); without it (PGD) the latest iterate is the result.
    """

    def __init__(self, images: torch.Tensor, reference: Reference, objective: Objective,
                 keep_label: bool, callback: Callable | None = None,
                 start_maps: torch.Tensor | None = None):
        """start_maps: the original images' maps as scored (for a stochastic method, with
        the scoring noise); the reference maps when None. They are step 0's result."""
        self.reference = reference
        self._objective_of = objective
        self.objective = objective(reference)   # D(maps, logits) -> (N,) for the whole batch
        self.keep_label = keep_label
        self.callback = callback
        self._original_ranks = average_ranks(reference.maps.flatten(1))
        self._original_top_k = top_k_mask(reference.maps, reference.k).flatten(1)
        self._original_center = center_of_mass(reference.maps)
        self.perturbed = images
        self.maps = reference.maps if start_maps is None else start_maps
        self.labels = reference.labels
        self.values = self.measure(self.maps, reference.logits)
        self.start_values = self.values
        # Per image: whether any iterate was accepted (Algorithm 1: a label-keeping one; label
        # attacks: one that changed the label). False means the result is the original image.
        self.found = torch.zeros_like(reference.labels, dtype=torch.bool)
        self.history: list[dict] = []
        self._pending: list[torch.Tensor] = []   # rows kept on the device until the end
        self.steps_run = 0
        self.stopped_early = False

    def objective_for(self, images: slice) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """D for the images `images` (a slice of the batch) alone."""
        return self._objective_of(self.reference.select(images))

    def measure(self, maps: torch.Tensor, logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """The tracked values of maps/logits against the original, batched, no host sync."""
        ranks = average_ranks(maps.flatten(1))
        k = self.reference.k
        flat_top_k = top_k_mask(maps, k).flatten(1)
        return {
            "dissimilarity": self.objective(maps, logits),
            "spearman": correlation(self._original_ranks, ranks),
            "top_k_intersection": (flat_top_k & self._original_top_k).sum(dim=1).to(maps.dtype) / k,
            "center_shift": torch.linalg.vector_norm(center_of_mass(maps) - self._original_center, dim=1),
            "labels_kept": logits.argmax(dim=1) == self.reference.labels,
        }

    def offer(self, step: int, x: torch.Tensor, maps: torch.Tensor, logits: torch.Tensor) -> bool:
        """Consider the iterate `x` (real maps and logits given); False when told to stop."""
        current = self.measure(maps, logits)
        if self.keep_label:
            # The best among the iterates that keep the label (Algorithm 1 returns an iterate,
            # never x_t itself: the original image stands in only while none kept the label).
            better = current["labels_kept"] & (~self.found | (current["dissimilarity"] > self.values["dissimilarity"]))
        else:
            better = torch.ones_like(current["labels_kept"])
        self.found = self.found | (better if self.keep_label else ~current["labels_kept"])
        self.perturbed = torch.where(better.reshape(-1, 1, 1, 1), x.detach(), self.perturbed)
        self.maps = torch.where(better.reshape(-1, 1, 1), maps, self.maps)
        self.labels = torch.where(better, logits.argmax(dim=1), self.labels)
        self.values = {name: torch.where(better, current[name], self.values[name]) for name in TRACKED}
        self.steps_run = step
        row = torch.stack([self.values[name].to(maps.dtype) for name in TRACKED]
                          + [current[name].to(maps.dtype) for name in TRACKED])
        if self.callback is None:
            self._pending.append(row)
            return True
        self.history.append(_row(step, row.tolist()))
        live = {**self.history[-1], "perturbed": self.perturbed, "perturbed_maps": self.maps}
        if self.callback(step, live) is False:
            self.stopped_early = True
            return False
        return True

    def finish(self) -> list[dict]:
        """The full history as JSON-able rows (one device-to-host copy for all steps)."""
        if self._pending:
            first = len(self.history) + 1
            for offset, values in enumerate(torch.stack(self._pending).tolist()):
                self.history.append(_row(first + offset, values))
            self._pending = []
        return self.history


def _row(step: int, values: list[list[float]]) -> dict:
    names = list(TRACKED) + [f"current_{name}" for name in TRACKED]
    row = {"step": step}
    for name, per_image in zip(names, values):
        row[name] = [bool(v) for v in per_image] if name.endswith("labels_kept") else per_image
    return row

