"""The effect beyond chance (fragility.chance) and the Compare page's ranking by it."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from fragility.chance import beyond_chance, missing_note


def run(spearman, top_k, found=True):
    return SimpleNamespace(found=torch.tensor([found]),
                           metrics={"spearman": torch.tensor([spearman]), "top_k_intersection": torch.tensor([top_k])})


def test_both_gaps_and_their_mean():
    gaps = beyond_chance(run(0.30, 0.00), run(0.45, 0.07))
    assert float(gaps["spearman"][0]) == pytest.approx(0.15)
    assert float(gaps["top_k_intersection"][0]) == pytest.approx(0.07)
    assert float(gaps["mean"][0]) == pytest.approx(0.11)


@pytest.mark.parametrize("attack_found, baseline_found, note", [
    (False, True, "the attack found no label-keeping perturbation"),
    (True, False, "no random sign draw kept the label"),
    (False, False, "neither the attack nor random sign kept the label"),
])
def test_no_gap_where_either_side_found_nothing(attack_found, baseline_found, note):
    # a side that found nothing reports the unperturbed image: Spearman 1, top-k 1
    attack, baseline = run(0.2, 0.0, attack_found), run(1.0, 1.0, baseline_found)
    gaps = beyond_chance(attack, baseline)
    assert all(math.isnan(float(value[0])) for value in gaps.values())
    assert missing_note(attack, baseline) == note
    assert missing_note(run(0.2, 0.0), run(0.5, 0.1)) is None


def test_the_compare_page_ranks_by_both_gaps_and_puts_missing_gaps_last():
    from dashboard.views.compare import _ranked

    def row(method, attack, baseline):
        return {"method": method, "plain": (attack, baseline, None)}
    # DeepLIFT keeps its ranks (Spearman gap 0.0008) but loses every top pixel (random sign keeps 7%)
    rows = [row("deeplift", run(0.5992, 0.00), run(0.6000, 0.07)),
            row("gradient", run(0.40, 0.05), run(0.42, 0.05)),
            row("smoothgrad", run(0.10, 0.00), run(1.0, 1.0, found=False)),
            row("guided-backprop", run(0.30, 0.02), run(0.40, 0.03))]
    assert [r["method"] for r in _ranked(rows, "mean")] == ["guided-backprop", "deeplift", "gradient", "smoothgrad"]
    assert [r["method"] for r in _ranked(rows, "spearman")] == ["guided-backprop", "gradient", "deeplift", "smoothgrad"]
    assert [r["method"] for r in _ranked(rows, "top_k_intersection")][:2] == ["deeplift", "guided-backprop"]
