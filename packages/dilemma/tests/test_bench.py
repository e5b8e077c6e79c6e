"""The DILEMMA bench's epoch-time ratio comes from interleaved rounds: the formula within each round, then
the median over rounds (a fake clock gives known times; no timed test)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator

import pytest
import torch

from dilemma_ssl import bench
from dilemma_ssl.config import MethodConfig
from dilemma_ssl.presets import small_vit

CPU = torch.device("cpu")
RATIOS = ("0", "0.4", "0.55", "0.65")
BATCH = {"0": 2, "0.4": 4, "0.55": 6, "0.65": 8}  # base 2 x multipliers 1, 2, 3, 4


def scripted_clock(rounds: list[dict[str, float]]) -> Callable[[], float]:
    """A clock read twice around each timed call (start, end): each call lasts its round's scripted time."""
    values: Iterator[float] = iter(v for r in rounds for name in RATIOS for v in (0.0, r[name]))
    return lambda: next(values)


def test_epoch_time_ratio_is_the_median_of_each_rounds_ratio() -> None:
    steady = {"0": 1.0, "0.4": 1.2, "0.55": 1.5, "0.65": 1.9}
    busy = {k: v * 6 for k, v in steady.items()}  # a neighbour slows every step of round 2
    split = {"0": 1.0, "0.4": 1.2, "0.55": 6.0, "0.65": 7.6}  # ... and arrives halfway through round 4
    rounds = [steady, steady, busy, split, steady, steady]
    res = bench.epoch_time_ratio(small_vit(img_size=16, patch_size=8, depth=1), 2, CPU, repeats=6, warmup=1,
                                 clock=scripted_clock(rounds))
    per_round = [(statistics.mean(r.values()) / 5.0) / (r["0"] / 2) for r in rounds]
    assert per_round[0] == pytest.approx((1.4 / 5) / 0.5)
    assert res["epoch_time_ratio"] == pytest.approx(statistics.median(per_round)) == pytest.approx(0.56)
    assert res["timing"]["times_s"]["0.55"] == [r["0.55"] for r in rounds]
    assert res["timing"]["pairs"] == 6 and res["timing"]["warmup"] == 1 and res["timing"]["base"] == "0"
    for k in RATIOS:
        assert res["per_ratio"][k]["batch"] == BATCH[k]
        assert res["per_ratio"][k]["step_s"] == statistics.median(r[k] for r in rounds)
        assert res["per_ratio"][k]["peak_gib"] is None  # CUDA only
    assert "median of 6 interleaved rounds (0, 0.4, 0.55, 0.65)" in res["timing_note"]
    assert "load average" in res["timing_note"]


def test_few_repeats_still_time_five_rounds_and_a_schedule_without_dense_gets_one() -> None:
    method = MethodConfig(sparsity=[0.4, 0.65], batch_multipliers=[2, 4])
    rounds = [{"0": 1.0, "0.4": 1.0, "0.65": 1.0}] * 5
    values = iter(v for r in rounds for name in ("0", "0.4", "0.65") for v in (0.0, r[name]))
    res = bench.epoch_time_ratio(small_vit(img_size=16, patch_size=8, depth=1), 2, CPU, repeats=1, warmup=0,
                                 method=method, clock=lambda: next(values))
    assert res["timing"]["pairs"] == bench.MIN_PAIRS == 5  # the GPU suite's dry run passes repeats=1
    assert list(res["per_ratio"]) == ["0", "0.4", "0.65"] and res["per_ratio"]["0"]["batch"] == 2
    assert res["epoch_time_ratio"] == pytest.approx((1.0 / 6) / (1.0 / 2))  # dense not in the schedule's mean
