"""The random sparsity schedule: batch size and token count per step, in the engine."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import torch
from dilemma_test_utils import tiny_method, tiny_model

from dilemma_ssl.config import DataConfig
from dilemma_ssl.data import build_pretrain_dataset
from dilemma_ssl.schedule import SparsitySchedule
from dilemma_ssl.variants.mocov3 import MoCoV3DilemmaTask
from sparse_core.engine import OptimConfig, TrainConfig, Trainer


def test_schedule_is_deterministic_and_covers_the_set() -> None:
    s = SparsitySchedule(10, (0.0, 0.4, 0.55, 0.65), (1, 2, 3, 4), seed=1)
    again = SparsitySchedule(10, (0.0, 0.4, 0.55, 0.65), (1, 2, 3, 4), seed=1)
    steps = range(400)
    assert [s.ratio(i) for i in steps] == [again.ratio(i) for i in steps]
    counts = Counter(s.ratio(i) for i in steps)
    assert set(counts) == {0.0, 0.4, 0.55, 0.65} and min(counts.values()) > 60
    for i in steps:
        assert s.batch_size(i) == 10 * {0.0: 1, 0.4: 2, 0.55: 3, 0.65: 4}[s.ratio(i)]
    assert s.mean_batch_size() == 25.0
    const = SparsitySchedule.constant(10, 0.75)
    assert {const.ratio(i) for i in steps} == {0.75} and {const(i) for i in steps} == {10}


class _Recorder(MoCoV3DilemmaTask):
    """Records the batch size and the number of student tokens of each step."""

    seen: list[tuple[int, int, int]]

    def student_tokens(self, backbone, x, corr):  # type: ignore[no-untyped-def]
        self.seen.append((self._step, x.shape[0], corr.keep_idx.shape[1]))
        return super().student_tokens(backbone, x, corr)

    def training_step(self, batch, step):  # type: ignore[no-untyped-def]
        self._step = step
        return super().training_step(batch, step)


def test_schedule_drives_batch_size_and_token_count(tmp_path: Path) -> None:
    schedule = SparsitySchedule(4, (0.0, 0.5, 0.75), (1, 2, 3), seed=0)
    task = _Recorder(tiny_model(), tiny_method(), schedule, seed=0)
    task.seen = []
    data = DataConfig(name="shapes", num_samples=64, image_size=16, augment="light", min_scale=0.3)
    ds = build_pretrain_dataset(data, task.model_cfg, task.method_cfg)
    train = TrainConfig(out_dir=str(tmp_path), max_steps=8, batch_size=4, progress=False, log_every=4)
    Trainer(task, ds, train, OptimConfig(lr=1e-3), batch_size_fn=schedule, find_unused_parameters=True).fit()
    assert len(task.seen) == 16  # 8 steps x 2 views
    for step, b, k in task.seen:
        assert b == schedule.batch_size(step)
        assert k == SparsitySchedule.num_kept(16, schedule.ratio(step))
    assert len({k for _, _, k in task.seen}) > 1  # more than one ratio was used


def test_dense_steps_turn_the_token_loss_off() -> None:
    schedule = SparsitySchedule(4, (0.0,), (1,), seed=0)
    task = MoCoV3DilemmaTask(tiny_model(), tiny_method(), schedule)
    views = {"views": [torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)]}
    out = task.training_step(views, 0)
    assert float(out["loss_token"]) == 0.0 and "token_acc" not in out
    md = MoCoV3DilemmaTask(tiny_model(), dataclasses.replace(tiny_method(), mismatch_on_dense=True), schedule)
    assert float(md.training_step(views, 0)["loss_token"]) > 0.0  # '+MD' ablation (Table 3.10)
