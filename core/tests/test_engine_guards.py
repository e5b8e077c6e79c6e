"""Refused before training: out-of-range config values, a run whose batches do not fit; and what a run reports:
the checkpoint from before a loss blow-up, distinct skipped files."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

import pytest
import torch

from sparse_core.config import ConfigError, parse_config
from sparse_core.engine import NonFiniteLossError, OptimConfig, TrainConfig, Trainer
from sparse_core.engine.checkpoint import list_checkpoints
from sparse_core.engine.divergence import DivergenceWatch

sys.path.insert(0, str(Path(__file__).parent))
from test_engine import NoisyRegression, RegTask, _cfgs

BAD_VALUES = [
    (TrainConfig, {"max_steps": -1}, r"train\.max_steps must be an integer >= 1 \(or None\), got -1"),
    (TrainConfig, {"max_steps": 0}, r"train\.max_steps must be an integer >= 1"),
    (TrainConfig, {"epochs": 0}, r"train\.epochs must be an integer >= 1"),
    (TrainConfig, {"max_steps": 5, "epochs": -1}, r"train\.epochs must be an integer >= 0"),
    (TrainConfig, {"batch_size": 0}, r"train\.batch_size must be an integer >= 1"),
    (TrainConfig, {"grad_accum": 0}, r"train\.grad_accum must be an integer >= 1"),
    (TrainConfig, {"num_workers": -2}, r"train\.num_workers must be an integer >= 0"),
    (TrainConfig, {"seed": -1}, r"train\.seed must be an integer >= 0"),
    (TrainConfig, {"clip_grad": 0.0}, r"train\.clip_grad must be a finite number > 0 \(or None\)"),
    (TrainConfig, {"clip_grad": -1.0}, r"train\.clip_grad must be a finite number > 0"),
    (TrainConfig, {"log_every": 0}, r"train\.log_every must be an integer >= 1"),
    (TrainConfig, {"ckpt_every": -5}, r"train\.ckpt_every must be an integer >= 1"),
    (TrainConfig, {"keep_last": 0}, r"train\.keep_last must be an integer >= 1"),
    (TrainConfig, {"out_dir": ""}, r"train\.out_dir must be a non-empty path"),
    (TrainConfig, {"resume": ""}, r"train\.resume must be 'auto', 'none' or a checkpoint path"),
    (OptimConfig, {"lr": -1e-3}, r"optim\.lr must be a finite number > 0, got -0\.001"),
    (OptimConfig, {"lr": 0.0}, r"optim\.lr must be a finite number > 0"),
    (OptimConfig, {"lr": float("nan")}, r"optim\.lr must be a finite number > 0"),
    (OptimConfig, {"min_lr": -1e-6}, r"optim\.min_lr must be a finite number >= 0 and <= 0\.00015"),
    (OptimConfig, {"lr": 1e-3, "min_lr": 1e-2}, r"optim\.min_lr must be a finite number >= 0 and <= 0\.001"),
    (OptimConfig, {"warmup_steps": -1}, r"optim\.warmup_steps must be an integer >= 0"),
    (OptimConfig, {"weight_decay": -0.1}, r"optim\.weight_decay must be a finite number >= 0"),
    (OptimConfig, {"weight_decay_end": -0.1}, r"optim\.weight_decay_end must be a finite number >= 0"),
    (OptimConfig, {"betas": (1.0, 0.999)}, r"optim\.betas\[0\] must be a finite number >= 0 and < 1"),
    (OptimConfig, {"betas": (0.9,)}, r"optim\.betas must be a pair"),
    (OptimConfig, {"eps": 0.0}, r"optim\.eps must be a finite number > 0"),
    (OptimConfig, {"layer_decay": 0.0}, r"optim\.layer_decay must be a finite number > 0 and <= 1"),
    (OptimConfig, {"layer_decay": 1.5}, r"optim\.layer_decay must be a finite number > 0 and <= 1"),
]


@pytest.mark.parametrize(("cls", "kwargs", "message"), BAD_VALUES,
                         ids=[f"{c.__name__}-{next(iter(k))}={next(iter(k.values()))}" for c, k, _ in BAD_VALUES])
def test_every_numeric_field_is_range_checked(cls: type, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cls(**kwargs)


def test_valid_edges_are_accepted() -> None:
    TrainConfig(max_steps=None, epochs=1)
    TrainConfig(max_steps=1, epochs=0, num_workers=0, seed=0, clip_grad=1e-3)
    OptimConfig(lr=1e-3, min_lr=1e-3, warmup_steps=0, weight_decay=0.0, betas=(0.0, 0.0), layer_decay=1.0)


def test_bad_values_on_the_command_line_are_config_errors_naming_the_key() -> None:
    from dataclasses import dataclass, field

    @dataclass
    class Run:
        train: TrainConfig = field(default_factory=TrainConfig)
        optim: OptimConfig = field(default_factory=OptimConfig)

    with pytest.raises(ConfigError, match=r"train\.max_steps must be an integer >= 1"):
        parse_config(Run, ["--train.max_steps=-1"])
    with pytest.raises(ConfigError, match=r"optim\.lr must be a finite number > 0"):
        parse_config(Run, ["--optim.lr=-1e-3"])


def test_run_of_zero_steps_is_refused(tmp_path: Path) -> None:
    train = TrainConfig(out_dir=str(tmp_path), epochs=1, batch_size=128, progress=False)
    with pytest.raises(ConfigError, match="the run has 0 optimizer steps"):  # 64 // 128 steps per epoch
        Trainer(RegTask(), NoisyRegression(), train, OptimConfig(), batch_size_fn=lambda step: 8)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_warmup_longer_than_the_run_is_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    train, _ = _cfgs(tmp_path, max_steps=3)
    with caplog.at_level(logging.WARNING, logger="sparse_core.engine"):
        Trainer(RegTask(), NoisyRegression(), train, OptimConfig(warmup_steps=10))
    assert any("optim.warmup_steps=10 is longer than the run (3 steps)" in r.getMessage() for r in caplog.records)


def test_largest_batch_of_a_schedule_is_checked_before_step_zero(tmp_path: Path) -> None:
    train, optim = _cfgs(tmp_path, max_steps=12)

    def schedule(step: int) -> int:
        return 8 if step < 5 else 128  # step 5 needs twice the dataset

    with pytest.raises(ConfigError, match=r"needs a batch of 128 at step 5.*larger than the dataset \(64"):
        Trainer(RegTask(), NoisyRegression(), train, optim, batch_size_fn=schedule)
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "metrics.jsonl").exists()
    train, optim = _cfgs(tmp_path, max_steps=12, grad_accum=4)
    with pytest.raises(ConfigError, match=r"global batch of step 3 is 6: .*divisible by .* = 4"):
        Trainer(RegTask(), NoisyRegression(), train, optim, batch_size_fn=lambda step: 6 if step == 3 else 8)


class ExplodingTask(RegTask):
    """The loss grows 4x per step from step 11 on (a diverging run) and turns NaN at step 16."""

    def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        out = super().training_step(batch, step)
        loss = out["loss"] * 4.0 ** max(0, step - 10)
        if step >= 16:
            loss = loss * float("nan")
        return {"loss": loss}


def test_non_finite_loss_names_the_checkpoint_from_before_the_blow_up(tmp_path: Path) -> None:
    train, optim = _cfgs(tmp_path, max_steps=30, ckpt_every=4)
    train.keep_last = 2
    with pytest.raises(NonFiniteLossError) as err:
        Trainer(ExplodingTask(), NoisyRegression(), train, optim).fit()
    msg = str(err.value)
    assert "at step 16" in msg and "began to grow at step 11" in msg
    assert f"{tmp_path / 'checkpoints' / 'ckpt_00000008.pt'}." in msg  # not ckpt_12 / ckpt_16, already exploding
    assert "with the same settings will fail again" in msg and "optim.lr" in msg
    # the named checkpoint is kept beyond keep_last=2 while the loss blows up
    assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")] == [
        "ckpt_00000008.pt", "ckpt_00000012.pt", "ckpt_00000016.pt"]


def test_divergence_watch_on_grad_norm_and_transient_spikes() -> None:
    watch = DivergenceWatch(factor=10.0, rise=2.0, min_history=4, patience=3)
    for step in range(10):
        watch.update(step, {"loss": 1.0, "grad_norm": 2.0})
    watch.update(10, {"loss": 1.0, "grad_norm": 5.0})  # rising (> 2x median) but not yet a blow-up
    assert watch.onset is None
    watch.update(11, {"loss": 1.0, "grad_norm": 50.0})
    onset = watch.onset
    assert onset is not None and (onset.key, onset.step, onset.flagged_step) == ("grad_norm", 10, 11)
    assert onset.median == 2.0 and onset.value == 50.0
    restored = DivergenceWatch(factor=10.0, rise=2.0, min_history=4, patience=3)
    restored.load_state_dict(watch.state_dict())
    assert restored.onset == onset
    for step in range(12, 15):  # back to normal for `patience` steps: a transient spike, forgotten
        watch.update(step, {"loss": 1.0, "grad_norm": 2.0})
    assert watch.onset is None
    watch.update(15, {"loss": float("nan")})
    assert watch.onset is not None and watch.onset.step == 15 and math.isnan(watch.onset.value)


class NamedFiles(NoisyRegression):
    def __init__(self, n: int, corrupt: tuple[int, ...]) -> None:
        super().__init__(n, corrupt)
        self.samples = [(Path(f"img_{i:02d}.png"), 0) for i in range(n)]


def test_skipped_count_is_distinct_files_named_in_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = NamedFiles(16, corrupt=(1, 5, 9, 13))
    train, optim = _cfgs(tmp_path / "full", max_steps=8, ckpt_every=100)  # 8 steps x 8 = 4 epochs of 16
    with caplog.at_level(logging.WARNING, logger="sparse_core.engine"):
        res = Trainer(RegTask(), data, train, optim).fit()
    assert res["num_skipped"] == 4  # 16 reads of 4 bad files
    assert res["skipped_samples"] == ["img_01.png", "img_05.png", "img_09.png", "img_13.png"]
    assert any("4 distinct corrupt or unreadable samples (16 reads) were skipped: img_01.png, img_05.png"
               in r.getMessage() for r in caplog.records)
    train, optim = _cfgs(tmp_path / "killed", max_steps=8, ckpt_every=3)
    with pytest.raises(KeyboardInterrupt):
        Trainer(RegTask(crash_at=5), data, train, optim).fit()
    assert Trainer(RegTask(), data, train, optim).fit()["num_skipped"] == 4  # the resumed run counts the same
