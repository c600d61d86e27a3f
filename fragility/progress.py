"""Progress bars that fit where the code runs: a widget in Jupyter, text in a terminal."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable


def bar(total: int, desc: str, unit: str, **options):
    """A tqdm bar from tqdm.auto (Jupyter's widget when ipywidgets is there, else text on
    stderr)."""
    from tqdm import TqdmWarning
    with warnings.catch_warnings():   # no ipywidgets: the text bar, which Jupyter shows too
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, **options)


def counting(callback: Callable | None, enabled: bool, total: int, desc: str,
             unit: str) -> Callable | None:
    """`callback(index, row)` that also advances a bar by one per call while `enabled`.

    The bar closes after `total` calls or when `callback` returns False (a stop); a bar
    left by an error closes when it is collected.
    """
    if not enabled:
        return callback
    progress = bar(total, desc, unit)

    def advance(index, row):
        progress.update(1)
        answer = None if callback is None else callback(index, row)
        if answer is False or progress.n >= total:
            progress.close()
        return answer
    return advance
