"""The engine on two CPU processes (gloo, through accelerate) reproduces one process holding the whole batch."""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from sparse_core.engine import OptimConfig, Task, TrainConfig, Trainer

sys.path.insert(0, str(Path(__file__).parent))
from test_engine import NoisyRegression


class LinearTask(Task):
    """Deterministic task (no dropout): parameters after training depend only on data and gradients."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16), nn.Linear(16, 1))

    def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        return {"loss": (self.net(batch["x"]) - batch["y"]).pow(2).mean()}


class LateHeadTask(LinearTask):
    """A second head joins the loss at step 3 (as a GAN's discriminator after ``disc_start``): before that its
    parameters get no gradient, which DDP only tolerates while it looks for unused parameters."""

    late = 3

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(8, 1)

    def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        out = super().training_step(batch, step)
        if step >= self.late:
            out["loss"] = out["loss"] + (self.head(batch["x"]) - batch["y"]).pow(2).mean()
        return out

    def find_unused_parameters(self, step: int) -> bool:
        return step < self.late


TASKS = {"linear": LinearTask, "late_head": LateHeadTask}


def _cfgs(out: Path) -> tuple[TrainConfig, OptimConfig]:
    return (TrainConfig(out_dir=str(out), max_steps=6, batch_size=8, seed=1, ckpt_every=3, log_every=1,
                        progress=False, grad_accum=2, resume="none"),
            OptimConfig(lr=1e-2, warmup_steps=1, weight_decay=0.05))


def _worker(rank: int, port: int, init: str, out: str, task_name: str) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "WORLD_SIZE": "2", "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": "2",
                       "ACCELERATE_USE_CPU": "true"})
    from accelerate.state import AcceleratorState, PartialState

    AcceleratorState._reset_state(True)  # forked from a process that may already hold a single-process state
    PartialState._reset_state()
    torch.set_num_threads(1)
    task = TASKS[task_name]()
    task.load_state_dict(torch.load(init, weights_only=True))
    trainer = Trainer(task, NoisyRegression(), *_cfgs(Path(out)))
    assert trainer.accelerator.num_processes == 2
    trainer.fit()
    assert not trainer.task.find_unused_parameters  # on only while the late head was idle (steps 0-2)
    if rank == 0:
        torch.save(trainer.unwrapped.state_dict(), Path(out) / "final.pt")
    torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(sys.platform != "linux", reason="fork-based launcher")
@pytest.mark.parametrize("task_name", list(TASKS))
def test_two_process_training_matches_single_process(tmp_path: Path, task_name: str) -> None:
    torch.manual_seed(0)
    ref = TASKS[task_name]()
    torch.save(ref.state_dict(), tmp_path / "init.pt")
    Trainer(ref, NoisyRegression(), *_cfgs(tmp_path / "single")).fit()

    ctx = mp.get_context("fork")
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(r, port, str(tmp_path / "init.pt"), str(tmp_path / "ddp"), task_name))
             for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
        if p.is_alive():
            p.kill()
    assert [p.exitcode for p in procs] == [0, 0]
    ddp = torch.load(tmp_path / "ddp" / "final.pt", weights_only=True)
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(ddp[k], v, rtol=1e-5, atol=1e-6, msg=k)
    # the reference really moved: the comparison is not between two untouched initialisations
    init = torch.load(tmp_path / "init.pt", weights_only=True)
    assert (ref.state_dict()["net.0.weight"] - init["net.0.weight"]).abs().max() > 1e-3
