"""Two gloo processes compute the same ViDROP loss (Sinkhorn, KoLeo, iBOT, token draws) and gradients as one."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).parent))
from vidrop_testutils import make_batch, tiny_config

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


def _worker(rank: int, world: int, init_file: str, centering: str, out_dir: str) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        batch = make_batch(tiny_config(), 8)
        b = 8 // world
        loss, parts, grad = _run(_slice(batch, rank * b, (rank + 1) * b), centering)
        dist.all_reduce(loss)
        dist.all_reduce(grad)  # DDP averages gradients over ranks
        torch.save({"loss": loss / world, "grad": grad / world, "masked": parts["masked_tokens"]},
                   Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("centering", ["sinkhorn"])
def test_two_processes_match_one(tmp_path: Path, centering: str) -> None:
    batch = make_batch(tiny_config(), 8)
    ref_loss, ref_parts, ref_grad = _run(batch, centering)
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), centering, str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt")
    r1 = torch.load(tmp_path / "rank1.pt")
    torch.testing.assert_close(r0["loss"], ref_loss, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(r0["grad"], ref_grad, rtol=1e-4, atol=1e-6)
    assert r0["masked"] + r1["masked"] == ref_parts["masked_tokens"]  # the same tokens were masked overall
