"""RIVER's all-past / RIVER cost ratios come from interleaved rounds (a scripted clock; no timed test)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch

from river_vp import bench
from sparse_core import timing

# seconds per round (river, all-past); a neighbour arrives during round 3 (its all-past call) and stays
ROUNDS = [(1.0, 3.0), (1.0, 3.0), (1.0, 12.0), (4.0, 12.0), (4.0, 12.0)]


def scripted(rounds: list[tuple[float, float]]) -> Callable[[], float]:
    values: Iterator[float] = iter(v for r in rounds for t in r for v in (0.0, t))
    return lambda: next(values)


def test_prediction_cost_ratios_are_paired_medians(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[dict[str, Any]] = []

    def interleave(fns: dict, device: torch.device, **kw: Any) -> timing.Interleaved:
        asked.append({"names": list(fns), **kw})
        return timing.interleave(fns, device, clock=scripted(ROUNDS), **kw)

    monkeypatch.setattr(bench, "interleave", interleave)
    res = bench.prediction_cost(torch.device("cpu"), paper_scale=False, contexts=[2, 4], steps=1, repeats=1)
    assert len(asked) == 4 and all(a["pairs"] == 5 and a["base"] == "allpast" for a in asked)  # repeats=1 -> 5
    assert all(a["names"] == ["river", "allpast"] for a in asked)
    paired = statistics.median(a / r for r, a in ROUNDS)
    assert paired == 3.0  # while the ratio of the medians would read 12x:
    assert statistics.median(a for _, a in ROUNDS) / statistics.median(r for r, _ in ROUNDS) == 12.0
    for row in res["rows"]:
        assert row["nfe_ratio"] == paired and row["predict16_ratio"] == paired
        assert row["nfe_river_ms"] == 1e3 and row["predict16_allpast_s"] == 12.0
        assert row["timing"]["predict16"]["times_s"]["allpast"] == [a for _, a in ROUNDS]
        assert "median of 5 interleaved rounds (river, allpast)" in row["timing_note"]
