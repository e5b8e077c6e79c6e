"""Benchmark (not a test of `nox -t test`): the core demo's speed figure and the benchmark's agree on a busy machine.

A busy-loop process takes a core for the whole measurement. The demo's speed stage
(:func:`sparse_core.demo._speed_table`: ViT-S/16 at 224 px, batch 16, one pinned thread, interleaved rounds) and
``sparse-core-bench`` run in its own process for the same model and keep ratio (0.35 vs dense, same batch and
thread) must print training-step speed-ups within 10 % of each other: both are medians of ratios within
interleaved rounds, so the neighbour slows both sides of every ratio instead of one.

Run by ``nox -s bench_agreement`` (``python -m pytest benchmarks -m benchmark -s``); takes a few minutes on a CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sparse_core import demo

pytestmark = pytest.mark.benchmark

KEEP = 0.35
TOLERANCE = 0.10


@contextmanager
def busy_neighbour() -> Iterator[subprocess.Popen]:
    """A process spinning a busy loop (one core) until the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(2.0)  # let it take its core before anything is timed
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=30)


def _bench_cli(out: Path) -> dict:
    """``sparse-core-bench`` in its own process, the demo's model, batch and thread, keeps dense and KEEP."""
    cmd = [sys.executable, "-m", "sparse_core.bench", "--out", str(out), "--models", "[small]",
           "--keeps", f"[1.0,{KEEP}]", "--batch_size", "16", "--threads", str(demo.SPEED_THREADS),
           "--repeats", str(demo.SPEED_ROUNDS), "--device", "cpu"]
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads((out / "core.json").read_text())


def test_demo_and_bench_speedups_agree_within_ten_percent_under_load(tmp_path: Path) -> None:
    key = f"small_keep{KEEP:g}_speedup"
    with busy_neighbour() as neighbour:
        shown = demo._speed_table(tmp_path / "demo")
        bench = _bench_cli(tmp_path / "bench")
        assert neighbour.poll() is None, "the busy neighbour stopped before the measurements ended"
    demo_x = shown.metrics[key]
    bench_rows = {r["keep"]: r for r in bench["rows"]}
    bench_x = bench_rows[KEEP]["speedup"]
    demo_t, bench_t = shown.details["timing"]["small"], bench["timing"]["small"]
    for name, x, t in (("demo", demo_x, demo_t), ("bench", bench_x, bench_t)):
        print(f"{name}: keep {KEEP} speed-up {x:.3f}x over {t['pairs']} rounds, {t['threads']} thread(s), "
              f"load average {t['load_before']} before, {t['load_after']} after, on {t['cpus']} CPUs")
    gap = abs(demo_x - bench_x) / bench_x
    print(f"relative gap {gap:.1%} (tolerance {TOLERANCE:.0%})")
    assert demo_t["pairs"] >= 5 and bench_t["pairs"] >= 5 and demo_t["threads"] == bench_t["threads"] == 1
    assert gap <= TOLERANCE, f"demo {demo_x:.3f}x vs bench {bench_x:.3f}x differ by {gap:.1%}"
