"""cached_row: a run is computed once per key; another key or an unreadable cache recomputes it."""

from __future__ import annotations

import json
from pathlib import Path

from sparse_core.study_cache import CACHE_NAME, cached_row


def test_cached_row_computes_once_per_key(tmp_path: Path) -> None:
    calls: list[int] = []

    def compute() -> dict[str, float]:
        calls.append(1)
        return {"knn": 50.0 + len(calls)}

    run = tmp_path / "seed0" / "dense"
    first = cached_row(run, {"lr": 1e-3, "path": Path("x")}, compute)
    again = cached_row(run, {"lr": 1e-3, "path": "x"}, compute)  # a Path key is stored as its string
    assert first == again == {"knn": 51.0} and len(calls) == 1
    assert cached_row(run, {"lr": 2e-3, "path": "x"}, compute) == {"knn": 52.0}  # another config: recomputed
    assert json.loads((run / CACHE_NAME).read_text())["config"]["lr"] == 2e-3
    (run / CACHE_NAME).write_text("{trunc")
    assert cached_row(run, {"lr": 2e-3, "path": "x"}, compute) == {"knn": 53.0}
    assert not list(run.glob("*.tmp"))
