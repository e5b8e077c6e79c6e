"""Speed ratios from interleaved rounds: the order of calls, paired medians, pinned threads, load average.

A fake clock stands in for time: each step advances it by its work times the machine's load at that moment,
so the tests are exact and take no time (no timed test).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import pytest
import torch

from sparse_core import timing
from sparse_core.timing import MIN_PAIRS, interleave, median_time

CPU = torch.device("cpu")


class Machine:
    """A fake clock and a load that multiplies the duration of the calls it covers (by call number)."""

    def __init__(self, load: dict[int, float] | None = None) -> None:
        self.now, self.calls, self.load = 0.0, 0, load or {}
        self.log: list[str] = []
        self.threads: list[int] = []

    def clock(self) -> float:
        return self.now

    def step(self, name: str, work: float) -> Callable[[], None]:
        def run() -> None:
            self.log.append(name)
            self.threads.append(torch.get_num_threads())
            self.now += work * self.load.get(self.calls, 1.0)
            self.calls += 1

        return run


def test_rounds_interleave_every_variant_after_warmup() -> None:
    m = Machine()
    res = interleave({"dense": m.step("d", 3.0), "0.35": m.step("a", 1.0), "0.15": m.step("b", 0.5)}, CPU,
                     pairs=5, warmup=2, clock=m.clock)
    assert m.log == ["d", "a", "b"] * 7  # 2 warm-up rounds, then 5 timed: dense, sparse, sparse, dense, ...
    assert res.times == {"dense": [3.0] * 5, "0.35": [1.0] * 5, "0.15": [0.5] * 5}  # warm-up not timed
    assert res.ratio("0.35") == 3.0 and res.ratio("0.15") == 6.0 and res.ratio("dense") == 1.0
    assert res.pairs == 5 and res.base == "dense" and res.median("0.35") == 1.0


def test_a_busy_neighbour_slows_both_sides_of_a_pair() -> None:
    # warm-up = calls 0-1; a neighbour arrives during timed round 2 (its sparse call 5) and leaves after round 4
    busy = {call: 8.0 for call in range(5, 10)}
    m = Machine(busy)
    res = interleave({"dense": m.step("d", 3.0), "sparse": m.step("s", 1.0)}, CPU, pairs=6, warmup=1,
                     clock=m.clock)
    ratios = [d / s for d, s in zip(res.times["dense"], res.times["sparse"])]
    assert ratios == [3.0, 3.0 / 8, 3.0, 3.0, 3.0, 3.0]  # only the round the neighbour split is off
    assert res.ratio("sparse") == 3.0  # the paired median holds the true 3x
    # the same load over the same steps timed one variant after the other (the old way) reads 0.375x
    seq = Machine({call: 8.0 for call in range(7, 14)})  # the neighbour arrives while sparse is timed
    dense_s = median_time(seq.step("d", 3.0), CPU, repeats=6, warmup=1, clock=seq.clock)
    sparse_s = median_time(seq.step("s", 1.0), CPU, repeats=6, warmup=1, clock=seq.clock)
    assert dense_s / sparse_s == pytest.approx(3.0 / 8)


def test_threads_are_pinned_and_restored() -> None:
    before = torch.get_num_threads()
    m = Machine()
    res = interleave({"dense": m.step("d", 2.0), "sparse": m.step("s", 1.0)}, CPU, threads=1, clock=m.clock)
    assert set(m.threads) == {1} and res.threads == 1
    assert torch.get_num_threads() == before


def test_load_average_is_kept_beside_the_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter([(3.5, 2.0, 1.0), (4.25, 2.5, 1.0)])
    monkeypatch.setattr(timing.os, "getloadavg", lambda: next(readings))
    m = Machine()
    res = interleave({"dense": m.step("d", 2.0), "sparse": m.step("s", 1.0)}, CPU, clock=m.clock)
    assert res.load_before == (3.5, 2.0, 1.0) and res.load_after == (4.25, 2.5, 1.0)
    line = res.describe()
    assert "median of 5 interleaved rounds (dense, sparse)" in line and "3.50 before, 4.25 after" in line
    saved = res.to_dict()
    assert saved["ratios"]["sparse"] == 2.0 and saved["load_before"] == (3.5, 2.0, 1.0)
    assert saved["times_s"]["dense"] == [2.0] * 5
    monkeypatch.setattr(timing.os, "getloadavg", lambda: (_ for _ in ()).throw(OSError("none")))
    assert timing.load_average() is None


def test_fewer_than_five_pairs_or_an_unknown_base_is_refused() -> None:
    m = Machine()
    fns = {"dense": m.step("d", 2.0), "sparse": m.step("s", 1.0)}
    with pytest.raises(ValueError, match=f"at least {MIN_PAIRS}"):
        interleave(fns, CPU, pairs=MIN_PAIRS - 1, clock=m.clock)
    with pytest.raises(ValueError, match="base 'nope'"):
        interleave(fns, CPU, base="nope", clock=m.clock)
    assert m.log == []  # refused before anything ran


def test_the_ratio_is_the_median_of_pairs_not_a_ratio_of_medians() -> None:
    # load from call 5 on: dense 4,4,4,10,10 / sparse 2,2,5,5,5 -> pairs 2,2,0.8,2,2 -> median 2,
    # while the ratio of the medians (4 / 5) would read 0.8
    m = Machine({call: 2.5 for call in range(5, 10)})
    res = interleave({"dense": m.step("d", 4.0), "sparse": m.step("s", 2.0)}, CPU, warmup=0, clock=m.clock)
    pairs = [d / s for d, s in zip(res.times["dense"], res.times["sparse"])]
    assert res.ratio("sparse") == statistics.median(pairs)
    assert res.times["dense"] == [4.0, 4.0, 4.0, 10.0, 10.0] and res.times["sparse"] == [2.0, 2.0, 5.0, 5.0, 5.0]
    assert statistics.median(pairs) == 2.0
    assert res.median("dense") / res.median("sparse") == pytest.approx(0.8)


def test_a_derived_figure_is_computed_within_each_round_then_the_median() -> None:
    # an epoch-time-like figure over two variants: (a + b) / dense per round; round 3 has a neighbour in b only
    m = Machine({8: 10.0})  # calls 0-2 round 1, 3-5 round 2, 6-8 round 3
    res = interleave({"dense": m.step("d", 2.0), "a": m.step("a", 1.0), "b": m.step("b", 1.0)}, CPU, warmup=0,
                     clock=m.clock)
    assert res.rounds()[2] == {"dense": 2.0, "a": 1.0, "b": 10.0}
    figure = res.round_median(lambda r: (r["a"] + r["b"]) / r["dense"])
    assert figure == 1.0  # per round 1, 1, 5.5, 1, 1
    assert res.ratio("a") == res.round_median(lambda r: r["dense"] / r["a"]) == 2.0


def test_training_step_fn_runs_one_optimizer_step_per_call_and_no_cuda_peak_off_cuda() -> None:
    from sparse_core.engine import Task

    class Fixed(Task):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(3))
            self.seen: list[tuple[int, int]] = []

        def training_step(self, batch: dict, step: int) -> dict:
            return {"loss": (self.w * batch["x"]).sum()}

        def on_after_step(self, step: int, total_steps: int) -> None:
            self.seen.append((step, total_steps))

    task = Fixed()
    step = timing.training_step_fn(task, {"x": torch.ones(3)}, CPU, total_steps=10)
    step()
    step()
    assert task.seen == [(0, 10), (1, 10)] and bool((task.w < 1).all())  # AdamW moved the weights
    assert timing.peak_cuda_gib(step, CPU, since=timing.cuda_allocated(CPU)) is None and len(task.seen) == 2
