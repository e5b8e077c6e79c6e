"""Two CPU processes (gloo): skipped files are counted once over all processes, and both fall back past a
damaged newest checkpoint to the same step (one of them moves it aside) and resume exactly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from sparse_core.engine import OptimConfig, TrainConfig, Trainer
from sparse_core.testing import run_distributed

sys.path.insert(0, str(Path(__file__).parent))
from test_engine_distributed import LinearTask
from test_engine_guards import NamedFiles

CORRUPT = (1, 5, 9, 13)


def _cfgs(out: Path) -> tuple[TrainConfig, OptimConfig]:
    return (TrainConfig(out_dir=str(out), max_steps=8, batch_size=8, seed=2, ckpt_every=3, log_every=1,
                        progress=False),
            OptimConfig(lr=1e-2, warmup_steps=1, weight_decay=0.05))


def _rank(rank: int, world: int, out: str) -> dict:
    from accelerate.state import AcceleratorState, PartialState

    AcceleratorState._reset_state(True)
    PartialState._reset_state()
    torch.manual_seed(0)
    trainer = Trainer(LinearTask(), NamedFiles(16, CORRUPT), *_cfgs(Path(out)))
    assert trainer.accelerator.num_processes == world
    start = trainer.step
    res = trainer.fit()
    if rank == 0:
        torch.save(trainer.unwrapped.state_dict(), Path(out) / "final.pt")
    return {"start": start, "num_skipped": res["num_skipped"], "names": res["skipped_samples"]}


def _launch(out: Path) -> list[dict]:
    return run_distributed(_rank, str(out), world_size=2, init_group=False, env={"ACCELERATE_USE_CPU": "true"},
                           timeout_s=240)


@pytest.mark.skipif(sys.platform != "linux", reason="fork-based launcher")
def test_two_processes_count_skips_once_and_fall_back_past_a_damaged_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = _launch(out)
    # 8 steps x 8 = 4 passes over 16 samples, each process reading half of every batch: 4 distinct files
    names = ["img_01.png", "img_05.png", "img_09.png", "img_13.png"]
    assert first == [{"start": 0, "num_skipped": 4, "names": names}] * 2
    final = torch.load(out / "final.pt", weights_only=True)
    newest = out / "checkpoints" / "ckpt_00000008.pt"
    newest.write_bytes(newest.read_bytes()[:64])
    again = _launch(out)
    assert again == [{"start": 6, "num_skipped": 4, "names": names}] * 2
    assert (out / "checkpoints" / "ckpt_00000008.pt.damaged").stat().st_size == 64
    resumed = torch.load(out / "final.pt", weights_only=True)
    for k, v in final.items():
        assert torch.equal(resumed[k], v), k
