"""Experiments at dataset scale: sweeps over images x methods x attacks x eps x seeds.

`sweep()` returns tidy rows (one per image and configuration) and, with `out=`, writes them
to a results directory that a rerun resumes; `report` draws the paper-style curves.
"""

from .results import read_config, read_results
from .sweep import Progress, sweep

__all__ = ["Progress", "read_config", "read_results", "sweep"]
