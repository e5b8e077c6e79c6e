"""Two CPU processes (gloo): skipped files are counted once over all processes, and both fall back past a
damaged newest checkpoint to the same step (one of them moves it aside) and resume exactly."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
from pathlib import Path

import pytest
import torch

from sparse_core.engine import OptimConfig, TrainConfig, Trainer

sys.path.insert(0, str(Path(__file__).parent))
from test_engine_distributed import LinearTask, _free_port
from test_engine_guards import NamedFiles

CORRUPT = (1, 5, 9, 13)


def _cfgs(out: Path) -> tuple[TrainConfig, OptimConfig]:
    return (TrainConfig(out_dir=str(out), max_steps=8, batch_size=8, seed=2, ckpt_every=3, log_every=1,
                        progress=False),
            OptimConfig(lr=1e-2, warmup_steps=1, weight_decay=0.05))


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "WORLD_SIZE": "2", "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": "2",
                       "ACCELERATE_USE_CPU": "true"})
    from accelerate.state import AcceleratorState, PartialState

    AcceleratorState._reset_state(True)
    PartialState._reset_state()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    trainer = Trainer(LinearTask(), NamedFiles(16, CORRUPT), *_cfgs(Path(out)))
    start = trainer.step
    res = trainer.fit()
    summary = {"start": start, "num_skipped": res["num_skipped"], "names": res["skipped_samples"]}
    (Path(out) / f"rank{rank}.json").write_text(json.dumps(summary))
    if rank == 0:
        torch.save(trainer.unwrapped.state_dict(), Path(out) / "final.pt")
    torch.distributed.destroy_process_group()


def _launch(out: Path) -> list[dict]:
    ctx = mp.get_context("fork")
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(r, port, str(out))) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in procs] == [0, 0]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


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
