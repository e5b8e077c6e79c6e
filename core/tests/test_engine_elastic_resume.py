"""Elastic resume: a run checkpointed on 2 processes resumes on 1, and one checkpointed on 1 resumes on 2, and
both end where the uninterrupted run ends.

Nothing in a checkpoint depends on the number of processes: the model and optimizer state are the same on
every process (DDP), the data stream's position ``(epoch, cursor)`` counts global samples, the sampler hands
each process a contiguous share of the same global batch, and every random choice of a step is drawn for the
whole global batch and sliced to the process's rows (:mod:`sparse_core.engine.randomness`). The toy task uses
such a draw (a random feature mask per global row) besides the per-sample augmentation noise of the data.

Tolerance: ``atol=1e-6, rtol=1e-5`` on every tensor after 6 AdamW steps (as the 2-process equivalence tests):
a world size changes only how the batch mean is summed (two half-batch means averaged by the all-reduce vs
one full mean), i.e. float rounding. The weights move more than 100x ``atol`` over the resumed half, so the
check can tell a resumed run from one that did not train after the checkpoint.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch

from sparse_core.engine import OptimConfig, TrainConfig, Trainer
from sparse_core.engine.checkpoint import checkpoint_path, load_checkpoint
from sparse_core.testing import run_distributed

sys.path.insert(0, str(Path(__file__).parent))
from test_engine import NoisyRegression
from test_engine_distributed import LinearTask

ATOL, RTOL = 1e-6, 1e-5
STEPS, AT = 6, 3


class MaskedLinearTask(LinearTask):
    """LinearTask on inputs whose features are dropped by a per-step draw for the whole global batch."""

    def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        x = batch["x"]  # (B, 8)
        rows = self.rows(x.shape[0], x.device)
        keep = torch.rand(rows.total, x.shape[1], generator=self.generator(step, "mask")) > 0.3  # (total, 8)
        x = x * keep[rows.rows].to(x.device, x.dtype)
        return {"loss": (self.net(x) - batch["y"]).pow(2).mean()}


def _cfgs(out: Path) -> tuple[TrainConfig, OptimConfig]:
    return (TrainConfig(out_dir=str(out), max_steps=STEPS, batch_size=8, seed=4, ckpt_every=AT, keep_last=2,
                        log_every=1, progress=False, grad_accum=2, resume="auto"),
            OptimConfig(lr=1e-2, warmup_steps=1, weight_decay=0.05))


def _train(out: Path, init: Path) -> tuple[int, dict[str, torch.Tensor]]:
    """Train (or resume) the run in ``out`` to the end; returns the step it started at and the final weights."""
    task = MaskedLinearTask()
    task.load_state_dict(torch.load(init, weights_only=True))
    trainer = Trainer(task, NoisyRegression(), *_cfgs(out))
    start = trainer.step
    trainer.fit()
    return start, {k: v.clone() for k, v in trainer.unwrapped.state_dict().items()}


def _rank(rank: int, world: int, out: str, init: str) -> tuple[int, dict[str, torch.Tensor] | None]:
    from accelerate.state import AcceleratorState, PartialState

    AcceleratorState._reset_state(True)  # forked from a process that already ran a single-process Trainer
    PartialState._reset_state()
    start, final = _train(Path(out), Path(init))
    return start, final if rank == 0 else None


def _two(out: Path, init: Path) -> tuple[int, dict[str, torch.Tensor]]:
    (s0, final), (s1, none) = run_distributed(_rank, str(out), str(init), world_size=2, init_group=False,
                                              env={"ACCELERATE_USE_CPU": "true"}, timeout_s=240)
    assert s0 == s1 and final is not None and none is None
    return s0, final


def _interrupted_copy(run: Path, to: Path) -> Path:
    """``run`` as it was when its checkpoint of step ``AT`` had just been written (later ones removed)."""
    shutil.copytree(run, to)
    checkpoint_path(to / "checkpoints", STEPS).unlink()
    return to


def _same(got: dict[str, torch.Tensor], ref: dict[str, torch.Tensor]) -> None:
    assert got.keys() == ref.keys()
    for k, v in ref.items():
        torch.testing.assert_close(got[k], v, atol=ATOL, rtol=RTOL, msg=k)


@pytest.mark.skipif(sys.platform != "linux", reason="fork-based launcher")
def test_resume_on_another_number_of_processes_ends_as_the_uninterrupted_run(tmp_path: Path) -> None:
    torch.manual_seed(0)
    init = tmp_path / "init.pt"
    torch.save(MaskedLinearTask().state_dict(), init)
    start, ref = _train(tmp_path / "one", init)  # uninterrupted, one process
    assert start == 0
    start, two = _two(tmp_path / "two", init)  # uninterrupted, two processes
    assert start == 0
    _same(two, ref)

    start, one_to_two = _two(_interrupted_copy(tmp_path / "one", tmp_path / "one_to_two"), init)
    assert start == AT
    _same(one_to_two, ref)
    start, two_to_one = _train(_interrupted_copy(tmp_path / "two", tmp_path / "two_to_one"), init)
    assert start == AT
    _same(two_to_one, ref)

    at = load_checkpoint(checkpoint_path(tmp_path / "one" / "checkpoints", AT))["task"]
    assert max(float((ref[k] - at[k]).abs().max()) for k in ref) > 100 * ATOL
