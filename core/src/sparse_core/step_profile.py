"""Per-step host overhead of the engine's :class:`~sparse_core.engine.Trainer`: host syncs and Python time.

A task with negligible compute (a 2-layer MLP on 8 features) is trained by the Trainer and by a bare loop
(forward, backward, AdamW); the difference of their per-step times is what the engine adds per step (data
loading, seeding, schedules, finiteness check, metric logging). ``torch.profiler`` counts the host syncs per
step: every ``aten::_local_scalar_dense`` (``.item()`` / ``float(t)``) and ``aten::is_nonzero``
(``bool(t)``) waits for the device on CUDA. Per-step times are differences of two run lengths, so start-up
and the final checkpoint cancel. Run ``python -m sparse_core.step_profile`` (CPU by default).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from sparse_core.engine import OptimConfig, Task, TrainConfig, Trainer

__all__ = ["SYNC_OPS", "count_syncs", "main", "profile_trainer"]

SYNC_OPS = ("aten::_local_scalar_dense", "aten::is_nonzero")


class _Regression(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 8, generator=g)
        self.y = self.x.sum(1, keepdim=True)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


class _MLPTask(Task):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 1))

    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        loss = (self.net(batch["x"]) - batch["y"]).pow(2).mean()
        return {"loss": loss, "mse": loss.detach()}


def count_syncs(prof: Any) -> dict[str, int]:
    """Number of calls of each host-syncing op (:data:`SYNC_OPS`) in a finished ``torch.profiler`` run."""
    counts: Counter[str] = Counter()
    for evt in prof.events():
        if evt.name in SYNC_OPS:
            counts[evt.name] += 1
    return {name: counts[name] for name in SYNC_OPS}


def _fit(steps: int, out: Path, batch: int, profiled: bool) -> tuple[float, dict[str, int]]:
    torch.manual_seed(0)
    train = TrainConfig(out_dir=str(out), max_steps=steps, batch_size=batch, log_every=10, ckpt_every=10**9,
                        keep_last=1, resume="none", progress=False)
    trainer = Trainer(_MLPTask(), _Regression(4096), train, OptimConfig(lr=1e-3))
    if not profiled:
        t0 = time.perf_counter()
        trainer.fit()
        return time.perf_counter() - t0, {}
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer.fit()
    return 0.0, count_syncs(prof)


def _bare(steps: int, batch: int) -> float:
    torch.manual_seed(0)
    task, data = _MLPTask(), _Regression(4096)
    opt = torch.optim.AdamW(task.parameters(), lr=1e-3)
    x, y = data.x[:batch], data.y[:batch]
    t0 = time.perf_counter()
    for s in range(steps):
        loss = task.training_step({"x": x, "y": y}, s)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def profile_trainer(short: int = 20, long: int = 120, batch: int = 32) -> dict[str, Any]:
    """Per-step engine overhead and host syncs of the Trainer on a negligible-compute task (CPU).

    Args:
        short: Steps of the shorter run.
        long: Steps of the longer run (per-step numbers are ``(long - short)`` differences).
        batch: Samples per step.

    Returns:
        ``trainer_ms_per_step``, ``bare_loop_ms_per_step``, ``engine_overhead_ms_per_step`` (their
        difference), ``manual_seed_us`` (one ``torch.manual_seed``: the engine seeds once per sample and per
        step), ``syncs_per_step`` per op and in ``total`` (profiled, short run subtracted).
    """
    with tempfile.TemporaryDirectory() as tmp:
        # best of two: the difference of two wall times is noisy on a shared machine
        t_short = min(_fit(short, Path(tmp) / f"a{i}", batch, False)[0] for i in range(2))
        t_long = min(_fit(long, Path(tmp) / f"b{i}", batch, False)[0] for i in range(2))
        _, s_short = _fit(short, Path(tmp) / "c", batch, True)
        _, s_long = _fit(long, Path(tmp) / "d", batch, True)
    n = long - short
    trainer_ms = 1e3 * (t_long - t_short) / n
    bare_ms = 1e3 * (min(_bare(long, batch) for _ in range(2)) - min(_bare(short, batch) for _ in range(2))) / n
    syncs = {k: (s_long[k] - s_short[k]) / n for k in SYNC_OPS}
    t0 = time.perf_counter()
    for _ in range(200):
        torch.manual_seed(0)
    seed_us = 1e6 * (time.perf_counter() - t0) / 200
    return {"manual_seed_us": seed_us, "trainer_ms_per_step": trainer_ms, "bare_loop_ms_per_step": bare_ms,
            "engine_overhead_ms_per_step": trainer_ms - bare_ms,
            "syncs_per_step": {**syncs, "total": sum(syncs.values())}, "batch": batch, "torch": torch.__version__}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sparse_core.step_profile [--batch N]``: print the profile as JSON; returns 0."""
    parser = argparse.ArgumentParser(prog="sparse_core.step_profile", description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args(argv)
    print(json.dumps(profile_trainer(batch=args.batch), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
