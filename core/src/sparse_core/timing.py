"""Timing helpers shared by the benchmarks of every package (medians, CUDA-synchronised, warm-up excluded)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["synchronize", "median_time", "training_step_time"]


def synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work on ``device`` (no-op elsewhere), so wall-clock times are real."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int = 1,
                clock: Callable[[], float] = time.perf_counter) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls after ``warmup`` untimed calls.

    ``clock`` is wall-clock by default; ``time.process_time`` measures the CPU time of this process instead,
    which on a CPU shared with other jobs (one thread per process) does not grow with their load.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        t0 = clock()
        fn()
        synchronize(device)
        times.append(clock() - t0)
    return statistics.median(times)


def training_step_time(task: Any, batch: dict[str, Any], device: torch.device, repeats: int, warmup: int = 2,
                       step: int | None = None, total_steps: int = 1000,
                       clock: Callable[[], float] = time.perf_counter) -> tuple[float, float | None]:
    """Median seconds of one full optimizer step of a :class:`~sparse_core.engine.Task` on ``batch``.

    Forward (bf16 autocast on CUDA), backward, AdamW step and ``on_after_step`` (EMA) are timed together.
    ``step`` fixes the step index given to the task (e.g. a sparsity schedule's step); by default it advances.

    Returns:
        (median seconds per step, peak CUDA memory in GiB or None off CUDA).
    """
    opt = torch.optim.AdamW([p for p in task.parameters() if p.requires_grad], lr=1e-4)
    cuda = device.type == "cuda"
    counter = iter(range(10**9))

    def one_step() -> None:
        s = next(counter) if step is None else step
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            out = task.training_step(batch, s)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        task.on_after_step(s, total_steps)

    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    seconds = median_time(one_step, device, repeats, warmup, clock)
    return seconds, (torch.cuda.max_memory_allocated(device) / 2**30 if cuda else None)
