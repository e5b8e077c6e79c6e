"""SCALE's step on 2 gloo processes equals one process holding the whole batch (value and gradients)."""

from __future__ import annotations

import torch

from scale_video.data import synthetic_bank
from scale_video.model import PredictorConfig
from scale_video.task import LossConfig, SCALETask
from sparse_core.testing import run_distributed

BATCH = 8


def _task() -> SCALETask:
    torch.manual_seed(0)
    bank = synthetic_bank(16, num_clips=8, dim=12, seed=0)
    task = SCALETask(bank, PredictorConfig(hidden_dim=32, num_heads=4, dropout=0.0, head_dim=16),
                     LossConfig(set_size=4, mask_ratio=0.25))
    task.seed = 5
    return task


def _step(task: SCALETask, index: torch.Tensor) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    out = task({"index": index}, step=3)
    out["loss"].backward()
    grads = {n: p.grad.clone() for n, p in task.named_parameters() if p.grad is not None}
    return {k: float(v.detach()) for k, v in out.items()}, grads


def _rank(rank: int, world: int) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    per = BATCH // world
    return _step(_task(), torch.arange(rank * per, (rank + 1) * per))


def test_two_processes_equal_one() -> None:
    ref_vals, ref_grads = _step(_task(), torch.arange(BATCH))
    results = run_distributed(_rank, world_size=2)
    for key, ref in ref_vals.items():  # mean over ranks of the local losses = single-process loss
        mean = sum(r[0][key] for r in results) / 2
        assert abs(mean - ref) < 1e-5 * max(1.0, abs(ref)), key
    assert set(results[0][1]) == set(ref_grads)
    for name, ref in ref_grads.items():  # DDP averages the gradients over ranks
        avg = (results[0][1][name] + results[1][1][name]) / 2
        torch.testing.assert_close(avg, ref, rtol=1e-4, atol=1e-6, msg=name)
