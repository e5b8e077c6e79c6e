"""Timing helpers shared by the benchmarks of every package (medians, CUDA-synchronised, warm-up excluded).

A speed ratio (sparse vs dense) comes from :func:`interleave`: the variants run in interleaved rounds (dense,
sparse, dense, sparse, ...) after warm-up, with torch's thread count pinned, and the ratio is the median over
rounds of the ratio *within* a round, so a neighbour's load that slows one round slows both sides of that
round's ratio; the machine's load average before and after is kept beside it. Medians of separate runs
(:func:`median_time`) measure whatever else the machine did meanwhile, and are not used for ratios.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from sparse_core.testing.threads import torch_threads
from sparse_core.timing_base import MIN_PAIRS, load_average

__all__ = ["MIN_PAIRS", "Interleaved", "cuda_allocated", "interleave", "load_average", "median_time",
           "peak_cuda_gib", "synchronize", "training_step_fn", "training_step_time"]

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


def training_step_fn(task: Any, batch: dict[str, Any], device: torch.device, step: int | None = None,
                     total_steps: int = 1000) -> Callable[[], None]:
    """One full optimizer step of a :class:`~sparse_core.engine.Task` on ``batch``, as a closure to time.

    Each call runs forward (bf16 autocast on CUDA), backward, an AdamW step over the trainable parameters
    (one optimizer per closure, made here) and ``on_after_step`` (EMA).

    Args:
        task: the task (its ``training_step(batch, step)`` returns ``{"loss": ...}``).
        batch: the batch every call reuses (already on ``device``).
        device: where the task runs (autocast on CUDA only).
        step: the step index given to the task on every call (e.g. a sparsity schedule's step); by default
            it advances 0, 1, 2, ...
        total_steps: what ``on_after_step`` is told the run's length is.

    Returns:
        the closure (no arguments, no result).
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

    return one_step


def cuda_allocated(device: torch.device) -> int:
    """Bytes of CUDA memory allocated on ``device`` now (0 off CUDA): the ``since`` of :func:`peak_cuda_gib`."""
    return torch.cuda.memory_allocated(device) if device.type == "cuda" else 0


def peak_cuda_gib(fn: Callable[[], Any], device: torch.device, since: int | None = None) -> float | None:
    """Peak CUDA memory (GiB) during one untimed call of ``fn``; None off CUDA.

    Args:
        fn: the step (e.g. from :func:`training_step_fn`).
        device: its device.
        since: bytes not counted (the :func:`cuda_allocated` reading taken before the variant was built, so
            variants built earlier and still resident are left out); None counts everything allocated.
    """
    if device.type != "cuda":
        return None
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - (since or 0)) / 2**30


def training_step_time(task: Any, batch: dict[str, Any], device: torch.device, repeats: int, warmup: int = 2,
                       step: int | None = None, total_steps: int = 1000,
                       clock: Callable[[], float] = time.perf_counter) -> tuple[float, float | None]:
    """Median seconds of one full optimizer step of a :class:`~sparse_core.engine.Task` on ``batch``.

    The step is :func:`training_step_fn`'s. For a speed *ratio* between variants use :func:`interleave` on
    their :func:`training_step_fn` closures instead.

    Returns:
        (median seconds per step, peak CUDA memory in GiB or None off CUDA).
    """
    one_step = training_step_fn(task, batch, device, step, total_steps)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds = median_time(one_step, device, repeats, warmup, clock)
    return seconds, (torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None)


@dataclass
class Interleaved:
    """Times of variants measured in interleaved rounds, and the ratios within each round.

    ``times[name][i]`` is the seconds of variant ``name`` in round ``i``; all variants ran once per round,
    in the order of ``times``.
    """

    times: dict[str, list[float]]
    """Seconds per round of each variant (warm-up excluded)."""
    base: str
    """The variant the ratios are relative to (the dense one)."""
    warmup: int
    """Untimed rounds run before the timed ones."""
    threads: int
    """torch's intra-op thread count, pinned for the measurement."""
    load_before: tuple[float, float, float] | None = None
    """Load averages (1, 5, 15 min) just before the timed rounds."""
    load_after: tuple[float, float, float] | None = None
    """Load averages just after them."""
    cpus: int | None = field(default_factory=os.cpu_count)
    """CPUs of the machine (what a load average compares against)."""

    @property
    def pairs(self) -> int:
        """Number of timed rounds."""
        return len(self.times[self.base])

    def median(self, name: str) -> float:
        """Median seconds of variant ``name``."""
        return statistics.median(self.times[name])

    def rounds(self) -> list[dict[str, float]]:
        """The timed rounds, each ``{variant: seconds}``."""
        return [dict(zip(self.times, values)) for values in zip(*self.times.values(), strict=True)]

    def round_median(self, derived: Callable[[Mapping[str, float]], float]) -> float:
        """Median over rounds of ``derived(round)``, a figure derived from several variants' times.

        E.g. an epoch-time ratio over a schedule: computed within each round, then the median, so a
        neighbour's load cancels as in :meth:`ratio`.
        """
        return statistics.median(derived(r) for r in self.rounds())

    def ratio(self, name: str) -> float:
        """Speed-up of ``name`` over :attr:`base`: the median over rounds of ``base time / name time``."""
        return self.round_median(lambda r: r[self.base] / r[name])

    def describe(self) -> str:
        """One line: rounds, warm-up, threads and the load average beside the figures."""
        def load(value: tuple[float, float, float] | None) -> str:
            return "n/a" if value is None else f"{value[0]:.2f}"

        cpus = f" on {self.cpus} CPUs" if self.cpus else ""
        return (f"speed-ups: median of {self.pairs} interleaved rounds ({', '.join(self.times)}) after "
                f"{self.warmup} warm-up round(s), {self.threads} thread(s); load average (1 min) "
                f"{load(self.load_before)} before, {load(self.load_after)} after{cpus}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form: every time, the ratios and the conditions of the measurement."""
        return {"times_s": self.times, "base": self.base, "pairs": self.pairs, "warmup": self.warmup,
                "threads": self.threads, "load_before": self.load_before, "load_after": self.load_after,
                "cpus": self.cpus, "ratios": {n: self.ratio(n) for n in self.times}}


def interleave(fns: Mapping[str, Callable[[], Any]], device: torch.device, base: str | None = None,
               pairs: int = MIN_PAIRS, warmup: int = 2, threads: int | None = None,
               clock: Callable[[], float] = time.perf_counter) -> Interleaved:
    """Time ``fns`` in interleaved rounds: each round calls every one once, in order (dense, sparse, ...).

    Args:
        fns: variant name -> one step (the base first, by convention).
        device: where they run (CUDA is synchronised around each timed call).
        base: the variant ratios are relative to (default the first).
        pairs: timed rounds (at least :data:`MIN_PAIRS`).
        warmup: untimed rounds first (allocator, kernels, caches).
        threads: torch's intra-op threads for the measurement (default the current count); restored after.
        clock: seconds clock (``time.perf_counter``; a test passes a fake one).

    Returns:
        the per-round times with the thread count and the load averages before and after.

    Raises:
        ValueError: fewer than :data:`MIN_PAIRS` rounds, no variant, or ``base`` not among them.
    """
    if pairs < MIN_PAIRS:
        raise ValueError(f"pairs={pairs}: a speed ratio is the median of at least {MIN_PAIRS} interleaved rounds")
    if not fns:
        raise ValueError("interleave: no variant to time")
    base = next(iter(fns)) if base is None else base
    if base not in fns:
        raise ValueError(f"interleave: base {base!r} is not one of {list(fns)}")
    n = torch.get_num_threads() if threads is None else threads
    times: dict[str, list[float]] = {name: [] for name in fns}
    with torch_threads(n):
        for _ in range(warmup):
            for fn in fns.values():
                fn()
        synchronize(device)
        before = load_average()
        for _ in range(pairs):
            for name, fn in fns.items():
                synchronize(device)
                t0 = clock()
                fn()
                synchronize(device)
                times[name].append(clock() - t0)
        after = load_average()
    return Interleaved(times, base, warmup, n, before, after)
