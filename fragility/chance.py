"""The effect beyond chance: how much further an attack moves a map than random sign noise of
the same size does, by each similarity the paper reports.

A run that found no label-keeping perturbation returns the image itself (Spearman 1, top-k
intersection 1): that is no number to compare, on either side, so the gap is NaN there.
"""

from __future__ import annotations

import math

import torch

# Similarities (1: the map is unchanged) whose drop below random sign's is the effect.
GAPS = {"spearman": "Spearman", "top_k_intersection": "top-k intersection"}
RANKINGS = {"mean": "the mean of the two gaps (Spearman and top-k intersection)",
            "spearman": "the Spearman gap", "top_k_intersection": "the top-k intersection gap"}


def beyond_chance(result, baseline) -> dict[str, torch.Tensor]:
    """Per image (N,): random sign's similarity minus the attack's, for each of GAPS (larger:
    the attack does more than chance), and "mean", the mean of the two; NaN where the attack
    or its baseline found no label-keeping perturbation."""
    both = result.found.cpu() & baseline.found.cpu()
    gaps = {name: torch.where(both, baseline.metrics[name].cpu().double() - result.metrics[name].cpu().double(),
                              torch.tensor(math.nan, dtype=torch.float64))
            for name in GAPS}
    gaps["mean"] = torch.stack(list(gaps.values())).mean(dim=0)
    return gaps


def missing_note(result, baseline, index: int = 0) -> str | None:
    """Why image `index` has no gap (None when it has one)."""
    attack_found, baseline_found = bool(result.found[index]), bool(baseline.found[index])
    if attack_found and baseline_found:
        return None
    if not attack_found and not baseline_found:
        return "neither the attack nor random sign kept the label"
    if not attack_found:
        return "the attack found no label-keeping perturbation"
    return "no random sign draw kept the label"
