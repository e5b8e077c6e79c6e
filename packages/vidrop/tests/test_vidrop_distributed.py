"""Two gloo processes compute the same ViDROP loss (Sinkhorn, KoLeo, iBOT, token draws) and gradients as one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).parent))
from vidrop_testutils import make_batch, tiny_config

from sparse_core.testing import run_distributed
from vidrop.task import ViDROPTask

GRAD = "student.backbone.vit.blocks.0.attn.qkv.weight"


def _slice(batch: dict, lo: int, hi: int) -> dict:
    return {k: (v[lo:hi] if torch.is_tensor(v) else v) for k, v in batch.items()}


def _run(batch: dict, centering: str, step: int = 3) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
    torch.manual_seed(0)
    task = ViDROPTask(tiny_config(centering=centering, teacher_temp_warmup_frac=0.0), total_steps=10)
    out = task.training_step(batch, step)
    out["loss"].backward()
    grad = dict(task.named_parameters())[GRAD].grad.clone()
    return out["loss"].detach(), {k: float(v.detach()) for k, v in out.items()}, grad


def _rank(rank: int, world: int, centering: str) -> dict:
    batch = make_batch(tiny_config(), 8)
    b = 8 // world
    loss, parts, grad = _run(_slice(batch, rank * b, (rank + 1) * b), centering)
    dist.all_reduce(loss)
    dist.all_reduce(grad)  # DDP averages gradients over ranks
    return {"loss": loss / world, "grad": grad / world, "masked": parts["masked_tokens"]}


@pytest.mark.parametrize("centering", ["sinkhorn"])
def test_two_processes_match_one(centering: str) -> None:
    batch = make_batch(tiny_config(), 8)
    ref_loss, ref_parts, ref_grad = _run(batch, centering)
    r0, r1 = run_distributed(_rank, centering, world_size=2)
    torch.testing.assert_close(r0["loss"], ref_loss, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(r0["grad"], ref_grad, rtol=1e-4, atol=1e-6)
    assert r0["masked"] + r1["masked"] == ref_parts["masked_tokens"]  # the same tokens were masked overall
