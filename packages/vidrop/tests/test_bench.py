"""The ViDROP bench's speed-ups come from interleaved rounds (a scripted clock gives known times; no timed test)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator

import pytest
from vidrop_testutils import tiny_config

from vidrop import bench


def scripted_clock(rounds: list[list[float]]) -> Callable[[], float]:
    """A clock read twice around each timed call: each call lasts its scripted time (rounds in order)."""
    values: Iterator[float] = iter(v for r in rounds for t in r for v in (0.0, t))
    return lambda: next(values)


def test_speedups_are_paired_medians_and_every_rate_keeps_its_own_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "_bench_cfg", lambda quick, gpu: (tiny_config(), 2))
    built: list[bench.ViDROPTask] = []
    task_cls = bench.ViDROPTask
    monkeypatch.setattr(bench, "ViDROPTask", lambda cfg, **kw: built.append(task_cls(cfg, **kw)) or built[-1])
    steady = [2.0, 1.0, 0.8, 0.5, 0.4]  # drop rates 0, 0.8, 0.85, 0.9, 0.95
    rounds = [steady, [2.0, 8.0, 6.4, 4.0, 3.2], steady, steady, steady]  # a neighbour after round 2's dense step
    rows, timing = bench.time_training(quick=True, steps=1, clock=scripted_clock(rounds))
    assert timing.pairs == bench.MIN_PAIRS and timing.warmup == 2  # steps=1 (the GPU dry run) still times 5
    assert [t.cfg.tokens.drop_ratio for t in built] == list(bench.DROP_RATES)  # built first, none overwritten
    assert [r["drop_rate"] for r in rows] == list(bench.DROP_RATES)
    for i, r in enumerate(rows):
        paired = [rd[0] / rd[i] for rd in rounds]
        assert r["speedup_vs_dense"] == pytest.approx(statistics.median(paired)) == pytest.approx(2.0 / steady[i])
        assert r["step_s"] == statistics.median(rd[i] for rd in rounds) and r["clips_per_s"] == 2 / r["step_s"]
    assert timing.to_dict()["times_s"]["0.8"] == [rd[1] for rd in rounds]


def test_gpu_suite_rows_carry_the_conditions_of_the_measurement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "_bench_cfg", lambda quick, gpu: (tiny_config(), 2))
    rows = bench.bench_training(quick=True, steps=1)
    assert len(rows) == len(bench.DROP_RATES) and rows[0]["speedup_vs_dense"] == 1.0
    assert all(r["pairs"] == 5 and r["threads"] >= 1 and r["step_s"] > 0 for r in rows)
