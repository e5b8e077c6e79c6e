"""Training-step benchmark of the sparse ViT: time, speed-up, peak memory and (CUDA) MFU per keep ratio.

One step is forward + backward + AdamW on a random batch, keeping ``K = num_keep(N, keep)`` random patch
tokens (drawn inside the step, as in training). The keep ratios run in interleaved rounds (dense, 0.35,
0.15, 0.05, dense, ...) after warm-up rounds, torch's thread count pinned
(:func:`sparse_core.timing.interleave`); a speed-up is the median over at least 5 rounds of the dense
step's time over the sparse step's time in the same round, and the machine's load average is written
beside it (``core.json`` and the table's caption), so another job on the machine slows both sides of a
ratio instead of one. Ideal speed-up is ``1 / keep``; efficiency is ``speed-up / ideal``.

Peak memory, of one more untimed step per keep ratio: on CUDA ``torch.cuda.max_memory_allocated`` (absolute); on
CPU the growth of the process's peak resident set during that step (``VmHWM`` after resetting it through
``/proc/self/clear_refs``; falls back to ``ru_maxrss`` growth, which only ever increases). MFU (CUDA, bf16
autocast) = FLOPs of one step counted by ``FlopCounterMode`` / step time / the device's dense bf16 peak.

Run ``sparse-core-bench --out DIR [--quick true]``; ``nox -s bench`` calls :func:`run` through the
``sparse_ssl.bench`` entry point. Benchmarks are never tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sparse_core.cli import run_cli
from sparse_core.suite import StageResult
from sparse_core.timing_base import MIN_PAIRS

_STEP = ("PEAK_BF16", "bench_model", "count_flops", "flop_counter", "peak_bf16_flops", "run", "run_bench")
"""The measurement's names, imported from :mod:`sparse_core.bench_step` (torch, timm) on first use."""
__all__ = ["CoreBenchConfig", "KEEPS", "MODELS", "main", *_STEP]

KEEPS = (1.0, 0.35, 0.15, 0.05)
MODELS = ("small", "base")


@dataclass
class CoreBenchConfig:
    """sparse-core-bench: training-step time, speed-up, peak memory and MFU of the sparse ViT per keep ratio."""

    out: str = "bench_out"
    """Output folder for core.json."""
    quick: bool = False
    """Tiny smoke setting (numbers not meaningful)."""
    models: list[str] = field(default_factory=lambda: list(MODELS))
    """Sizes: tiny, small, base, large."""
    keeps: list[float] = field(default_factory=lambda: list(KEEPS))
    """Keep ratios (1.0 = dense)."""
    device: str | None = None
    """cpu or cuda (default: cuda if available)."""
    batch_size: int | None = None
    """Batch size per step (default depends on model and device)."""
    repeats: int | None = None
    """Timed steps per setting."""
    compile: str | None = None
    """torch.compile mode ('default', 'reduce-overhead', 'max-autotune'); None runs eagerly."""
    threads: int | None = None
    """torch intra-op threads, pinned while measuring (default: the current count, from OMP_NUM_THREADS)."""

    def __post_init__(self) -> None:
        """Refuse unknown model sizes and too few rounds at construction.

        Raises:
            ValueError: a size in ``models`` other than tiny, small, base or large; ``repeats`` below
                :data:`~sparse_core.timing.MIN_PAIRS`; ``threads`` below 1.
        """
        unknown = sorted(set(self.models) - {"tiny", "small", "base", "large"})
        if unknown:
            raise ValueError(f"models: unknown size(s) {unknown}; valid: tiny, small, base, large")
        if self.repeats is not None and self.repeats < MIN_PAIRS:
            raise ValueError(f"repeats: {self.repeats} is below {MIN_PAIRS} (a speed-up is the median of at least "
                             f"{MIN_PAIRS} interleaved rounds)")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads: {self.threads} is not a thread count (>= 1)")


def _run_config(cfg: CoreBenchConfig) -> StageResult:
    from sparse_core.bench_step import run  # torch and timm: for a run, not for --help or a bad argument

    return run(cfg.out, quick=cfg.quick, models=cfg.models, keeps=cfg.keeps, device=cfg.device,
               batch_size=cfg.batch_size, repeats=cfg.repeats, compile_mode=cfg.compile, threads=cfg.threads)


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``sparse-core-bench``: 0 on success, 2 on a config error."""
    return run_cli(CoreBenchConfig, _run_config, argv, prog="sparse-core-bench")


def __getattr__(name: str) -> Any:
    """The measurement's names (:data:`_STEP`), from :mod:`sparse_core.bench_step` on first use."""
    if name not in _STEP:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from sparse_core import bench_step

    value = getattr(bench_step, name)
    globals()[name] = value
    return value


if __name__ == "__main__":
    raise SystemExit(main())
