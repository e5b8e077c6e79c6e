"""ViDROP's suite place (``sparse_ssl.order`` -> :data:`POSITION`, the thesis order of
:mod:`sparse_core.suite`) and GPU-suite rows (``sparse_ssl.gpu`` -> :data:`ROWS`, :mod:`sparse_core.gpu_suite`).
The rows import the bench code when they run.
"""

from __future__ import annotations

from typing import Any

from sparse_core.gpu_suite import Row, RowContext

__all__ = ["POSITION", "ROWS"]

POSITION = 4  # core 0, dilemma 1, scale 2, river 3, vidrop 4, sfclip 5


def _vidrop(ctx: RowContext) -> dict[str, Any]:
    from vidrop.bench import bench_training

    rows = bench_training(quick=ctx.dry, steps=1 if ctx.dry else 10)
    return {"rows": rows, "headline": {f"speedup_drop{r['drop_rate']:g}": r["speedup_vs_dense"] for r in rows}}


ROWS: tuple[Row, ...] = (
    Row("vidrop_clips_per_s", 60, _vidrop, ">= 2x at 85 % (thesis 1.84x)"),
)
"""The GPU-suite rows (they reuse the package's own bench functions)."""
