"""Batch-size lr scaling rules (``optim.scale_lr_rule``) and parameter groups frozen for the first steps
(``ParamGroup.frozen_steps``, DINOv2's ``freeze_last_layer_epochs``)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from sparse_core.config import ConfigError
from sparse_core.engine import OptimConfig, ParamGroup, TrainConfig, Trainer
from sparse_core.engine.optim import param_groups, scaled_lr

sys.path.insert(0, str(Path(__file__).parent))
from test_engine import NoisyRegression, RegTask


@pytest.mark.parametrize("batch", [32, 256, 1000])
def test_scaled_lr_rules(batch: int) -> None:
    assert scaled_lr(OptimConfig(lr=1e-3, scale_lr=True), batch) == pytest.approx(1e-3 * batch / 256, rel=1e-12)
    sqrt = OptimConfig(lr=4e-3, scale_lr=True, scale_lr_rule="sqrt", scale_lr_batch=1024)
    assert scaled_lr(sqrt, batch) == pytest.approx(4e-3 * math.sqrt(batch / 1024), rel=1e-12)
    assert scaled_lr(OptimConfig(lr=4e-3, scale_lr_rule="sqrt"), batch) == 4e-3  # scale_lr off: unchanged


def test_bad_scaling_rule_is_refused() -> None:
    with pytest.raises(ConfigError, match="optim.scale_lr_rule"):
        OptimConfig(scale_lr_rule="log")
    with pytest.raises(ConfigError, match="optim.scale_lr_batch"):
        OptimConfig(scale_lr_batch=-2)


class FrozenHeadTask(RegTask):
    """RegTask whose last linear has lr 0 for the first ``frozen`` steps."""

    def __init__(self, frozen: int) -> None:
        super().__init__()
        self.frozen = frozen

    def param_groups(self) -> list[ParamGroup]:
        return [ParamGroup("net.3", frozen_steps=self.frozen)]


def test_frozen_group_is_bitwise_unchanged_then_trains(tmp_path: Path) -> None:
    torch.manual_seed(0)
    task = FrozenHeadTask(frozen=3)
    groups = param_groups(task, 0.3, custom=task.param_groups())
    assert {g["frozen_steps"] for g in groups if g["group"] == "net.3"} == {3}
    assert {g["frozen_steps"] for g in groups if g["group"] == "default"} == {0}
    train = TrainConfig(out_dir=str(tmp_path), max_steps=5, batch_size=8, seed=1, ckpt_every=100, log_every=1,
                        progress=False, resume="none")
    trainer = Trainer(task, NoisyRegression(), train, OptimConfig(lr=1e-2, weight_decay=0.3))
    seen: list[tuple[torch.Tensor, torch.Tensor, list[float]]] = []

    def record(*_: object) -> None:
        seen.append((task.net[3].weight.detach().clone(), task.net[0].weight.detach().clone(),
                     [g["weight_decay"] for g in trainer.optimizer.param_groups if g["group"] == "net.3"]))

    w0, other0 = task.net[3].weight.detach().clone(), task.net[0].weight.detach().clone()
    trainer.optimizer.optimizer.register_step_post_hook(record)
    trainer.fit()
    for step in range(3):  # lr 0 with weight decay 0.3 on the group's matrix: not one bit moves
        w, other, wds = seen[step]
        assert torch.equal(w, w0), step
        assert 0.3 in wds
        assert not torch.equal(other, other0)
    assert not torch.equal(seen[3][0], w0)  # step 3: the group trains
