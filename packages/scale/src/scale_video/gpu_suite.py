"""SCALE's suite place (``sparse_ssl.order`` -> :data:`POSITION`, the thesis order of
:mod:`sparse_core.suite`) and GPU-suite rows (``sparse_ssl.gpu`` -> :data:`ROWS`, :mod:`sparse_core.gpu_suite`).
The rows import the bench code when they run.
"""

from __future__ import annotations

from typing import Any

from sparse_core.gpu_suite import Row, RowContext

__all__ = ["POSITION", "ROWS"]

POSITION = 2  # core 0, dilemma 1, scale 2, river 3, vidrop 4, sfclip 5


def _scale(ctx: RowContext) -> dict[str, Any]:
    from scale_video.bench import scale_rate

    res = scale_rate(4, ctx.device, repeats=1, dim=32) if ctx.dry else scale_rate(2048, ctx.device, repeats=10)
    return {**res, "headline": {"samples_per_s": res["samples_per_s"]}}


ROWS: tuple[Row, ...] = (
    Row("scale_samples_per_s", 30, _scale, ">= 10,000 samples/s"),
)
"""The GPU-suite rows (they reuse the package's own bench functions)."""
