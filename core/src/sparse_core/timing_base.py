"""The torch-free part of the timing helpers: the fewest rounds a ratio is the median of, the load average.

:mod:`sparse_core.timing` re-exports both; a benchmark's config (``sparse-core-bench --help``) and the
``--help`` latency benchmark read them without importing torch.
"""

from __future__ import annotations

import os

__all__ = ["MIN_PAIRS", "load_average"]

MIN_PAIRS = 5
"""Fewest timed rounds a printed speed ratio is the median of."""


def load_average() -> tuple[float, float, float] | None:
    """The machine's 1-, 5- and 15-minute load averages (``os.getloadavg``), None where there is none."""
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None
