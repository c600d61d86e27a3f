"""What an attack returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class AttackResult:
    """The perturbed images, their maps and labels, the metrics and how the run went.

    Every tensor has one entry per image: images are attacked together but tracked apart.
    """
    perturbed: torch.Tensor          # (N,3,H,W) in [0,1], within epsilon of the images
    original_maps: torch.Tensor      # (N,H,W) real saliency maps of the images
    perturbed_maps: torch.Tensor     # (N,H,W) real saliency maps of `perturbed`
    labels: torch.Tensor             # (N,) original predictions (the explained classes)
    perturbed_labels: torch.Tensor   # (N,) predictions for `perturbed`
    labels_kept: torch.Tensor        # (N,) bool: perturbed_labels == labels
    # (N,) bool: an iterate was accepted. Interpretation attacks and random sign: a
    # perturbation that keeps the label (False: none did, `perturbed` is the original image).
    # Label attacks (pgd): a perturbation that changes the label.
    found: torch.Tensor
    metrics: dict[str, torch.Tensor]  # name -> (N,): spearman, top_k_intersection, ...
    history: list[dict] = field(default_factory=list)  # one JSON-able row per step
    config: dict = field(default_factory=dict)          # JSON-able; reproduces the run
    surrogate: str = ""              # how the attack's gradient was taken
    steps_run: int = 0
    stopped_early: bool = False      # the callback returned False
    # Stochastic methods (SmoothGrad): spearman, top_k_intersection and center_shift of the
    # original images' maps drawn with independent noise, i.e. what the metrics show with no
    # perturbation at all. None for deterministic methods (there it is 1, 1 and 0).
    noise_floor: dict[str, torch.Tensor] | None = None
    images: torch.Tensor | None = None   # (N,3,H,W) the attacked images, for the display
    # fg.attack(..., baseline=True): the matching random-sign run (same eps, steps, criterion)
    baseline: AttackResult | None = None

    def __repr__(self) -> str:
        from ..display import text
        return text(self)

    def _repr_html_(self) -> str:
        from ..display import html
        return html(self)

    def summary(self) -> dict:
        """The metrics as JSON-able per-image lists (with labels), e.g. for a report file."""
        values = {name: value.tolist() for name, value in self.metrics.items()}
        return {**values, "labels": self.labels.tolist(), "perturbed_labels": self.perturbed_labels.tolist(),
                "labels_kept": self.labels_kept.tolist(), "found": self.found.tolist(),
                "steps_run": self.steps_run, "stopped_early": self.stopped_early,
                "noise_floor": None if self.noise_floor is None else
                {name: value.tolist() for name, value in self.noise_floor.items()}}
