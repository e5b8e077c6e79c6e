"""Benchmark timing helpers: every call is a full optimizer step, warm-up excluded from the median."""

from __future__ import annotations

import torch
from torch import nn

from sparse_core.engine import Task
from sparse_core.timing import median_time, training_step_time


class CountingTask(Task):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 1)
        self.seen_steps: list[int] = []
        self.after: list[int] = []

    def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        self.seen_steps.append(step)
        return {"loss": self.lin(batch["x"]).pow(2).mean()}

    def on_after_step(self, step: int, total_steps: int) -> None:
        self.after.append(step)


def test_training_step_time_runs_full_steps() -> None:
    task = CountingTask()
    before = task.lin.weight.detach().clone()
    sec, peak = training_step_time(task, {"x": torch.randn(8, 4)}, torch.device("cpu"), repeats=3, warmup=2)
    assert sec > 0 and peak is None
    assert task.seen_steps == [0, 1, 2, 3, 4] and task.after == task.seen_steps
    assert not torch.equal(before, task.lin.weight)  # the optimizer stepped
    fixed = CountingTask()
    training_step_time(fixed, {"x": torch.randn(8, 4)}, torch.device("cpu"), repeats=2, warmup=1, step=7)
    assert fixed.seen_steps == [7, 7, 7]


def test_median_time_excludes_warmup() -> None:
    calls: list[int] = []
    median_time(lambda: calls.append(1), torch.device("cpu"), repeats=4, warmup=3)
    assert len(calls) == 7


def test_median_time_reads_the_given_clock() -> None:
    """With ``clock`` given (e.g. time.process_time), the times are differences of that clock's readings."""
    ticks = iter([0.0, 2.0, 10.0, 11.0, 20.0, 25.0])  # three calls last 2, 1 and 5 of this clock
    calls = []
    assert median_time(lambda: calls.append(1), torch.device("cpu"), repeats=3, warmup=1,
                       clock=lambda: next(ticks)) == 2.0
    assert len(calls) == 4  # one warm-up call, untimed
