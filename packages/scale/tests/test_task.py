"""SCALETask: per-step draws come from the engine's generator for the whole step batch, sliced per micro-batch."""

from __future__ import annotations

import pytest
import torch

from scale_video.data import synthetic_bank
from scale_video.masking import draw_clips
from scale_video.model import PredictorConfig
from scale_video.task import LossConfig, SCALETask
from sparse_core.engine.randomness import step_generator


def _task(**loss: object) -> SCALETask:
    torch.manual_seed(0)
    bank = synthetic_bank(12, num_clips=8, dim=10, seed=0)
    task = SCALETask(bank, PredictorConfig(hidden_dim=16, num_heads=2, dropout=0.0, head_dim=8),
                     LossConfig(set_size=4, **loss))  # type: ignore[arg-type]
    task.seed, task.accum = 7, 2
    return task.eval()


def test_micro_batch_uses_its_rows_of_the_step_draw() -> None:
    task = _task()
    index = torch.tensor([4, 5, 6])  # second micro-batch of a 6-sample step
    out = task({"index": index}, step=11, micro=1)
    draw = draw_clips(6, 8, 4, 0.25, step_generator(7, 11, 0, "clips"))[slice(3, 6)]
    feats, boxes = task.bank.take(index)
    ref = task.losses(feats, boxes, draw.sets, draw.mask)
    for k in ("loss", "mcm_loss", "set_loss"):
        assert out[k].item() == pytest.approx(ref[k].item(), rel=1e-6)
    assert out["loss"].item() == pytest.approx(out["mcm_loss"].item() + out["set_loss"].item(), rel=1e-6)  # eq. 4.8


def test_steps_draw_differently() -> None:
    task = _task()
    batch = {"index": torch.arange(3)}
    assert task(batch, step=0)["loss"].item() != task(batch, step=1)["loss"].item()
    assert task(batch, step=0)["loss"].item() == task(batch, step=0)["loss"].item()


@pytest.mark.parametrize(("mcm", "set_", "keys"),
                         [(True, False, {"loss", "mcm_loss"}), (False, True, {"loss", "set_loss"})])
def test_ablation_uses_one_loss(mcm: bool, set_: bool, keys: set[str]) -> None:
    task = _task(mcm=mcm, set=set_)
    out = task({"index": torch.arange(3)}, step=0)
    assert set(out) == keys and task.find_unused_parameters(0)


def test_bad_loss_config() -> None:
    with pytest.raises(ValueError, match="both"):
        LossConfig(mcm=False, set=False)
    with pytest.raises(ValueError, match="stored clips"):
        SCALETask(synthetic_bank(4, num_clips=6, dim=4), loss=LossConfig(set_size=4))
