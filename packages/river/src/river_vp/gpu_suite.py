"""RIVER's suite place (``sparse_ssl.order`` -> :data:`POSITION`, the thesis order of
:mod:`sparse_core.suite`) and GPU-suite rows (``sparse_ssl.gpu`` -> :data:`ROWS`, :mod:`sparse_core.gpu_suite`).
The rows import the bench code when they run.
"""

from __future__ import annotations

from typing import Any

from sparse_core.gpu_suite import Row, RowContext

__all__ = ["POSITION", "ROWS"]

POSITION = 3  # core 0, dilemma 1, scale 2, river 3, vidrop 4, sfclip 5


def _river(ctx: RowContext) -> dict[str, Any]:
    from river_vp.bench import prediction_cost

    if ctx.dry:
        res = prediction_cost(ctx.device, paper_scale=False, contexts=[2, 4], steps=1, repeats=1)
    else:
        res = prediction_cost(ctx.device, paper_scale=True, contexts=[8, 32], steps=10, repeats=10)
    head = {"predict16_s": res["rows"][0]["predict16_river_s"]}
    head.update({f"allpast_ratio_{r['past_frames']}": r["predict16_ratio"] for r in res["rows"]})
    return {**res, "headline": head}


ROWS: tuple[Row, ...] = (
    Row("river_predict16", 45, _river, "< 1 s (thesis 9.97 s on a 3090)"),
)
"""The GPU-suite rows (they reuse the package's own bench functions)."""
