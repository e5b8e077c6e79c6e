"""Resume that survives a damaged file and refuses another config; stale temp files are cleaned on start."""

from __future__ import annotations

import dataclasses
import logging
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from torch import nn

from sparse_core.config import ConfigError
from sparse_core.engine import OptimConfig, Task, TrainConfig, Trainer
from sparse_core.engine.checkpoint import TEMP_PREFIX, CheckpointError, list_checkpoints, load_latest_checkpoint
from sparse_core.engine.resume import SAFE_ON_RESUME, ResumeConfigError, config_differences
from sparse_core.export import _temp_beside, save_weights

sys.path.insert(0, str(Path(__file__).parent))
from test_engine import NoisyRegression, RegTask, _cfgs, _weights


def _run_12_steps(out: Path) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    task = RegTask()
    Trainer(task, NoisyRegression(), *_cfgs(out)).fit()  # checkpoints at 4, 8 and 12 (the end)
    return _weights(task)


@pytest.mark.parametrize("damage", ["truncated", "zero-byte"])
def test_damaged_latest_checkpoint_falls_back_to_the_newest_that_loads(
        tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture) -> None:
    final = _run_12_steps(tmp_path)
    ckpt_dir = tmp_path / "checkpoints"
    newest = ckpt_dir / "ckpt_00000012.pt"
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    damaged = newest.read_bytes()

    resumed = RegTask()
    with caplog.at_level(logging.WARNING, logger="sparse_core.engine"):
        trainer = Trainer(resumed, NoisyRegression(), *_cfgs(tmp_path))
    assert trainer.step == 8
    assert any("ckpt_00000012.pt" in r.getMessage() and "not a valid checkpoint" in r.getMessage()
               for r in caplog.records)
    aside = ckpt_dir / "ckpt_00000012.pt.damaged"
    assert aside.read_bytes() == damaged  # kept for inspection, never deleted
    trainer.fit()  # the fallback resume is exact: the same final weights as the uninterrupted run
    for k, v in _weights(resumed).items():
        assert torch.equal(v, final[k]), k
    assert aside.read_bytes() == damaged  # the new ckpt_12 did not overwrite it


def test_every_checkpoint_damaged_or_an_explicit_damaged_path_is_refused(tmp_path: Path) -> None:
    _run_12_steps(tmp_path)
    paths = list_checkpoints(tmp_path / "checkpoints")
    for p in paths:
        p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"ckpt_00000004\.pt is not a valid checkpoint"):
        load_latest_checkpoint(tmp_path / "checkpoints", quarantine=False)
    with pytest.raises(CheckpointError, match="no checkpoint in .* can be loaded") as err:
        Trainer(RegTask(), NoisyRegression(), *_cfgs(tmp_path))
    assert "\n" not in str(err.value) and "weights_only" not in str(err.value)
    bad = tmp_path / "checkpoints" / "ckpt_00000004.pt.damaged"
    train, optim = _cfgs(tmp_path / "other", resume=str(bad))
    with pytest.raises(CheckpointError, match="is not a valid checkpoint") as err:
        Trainer(RegTask(), NoisyRegression(), train, optim)
    assert "weights_only" not in str(err.value)  # never the advice to unpickle


def test_stale_temp_files_of_the_run_are_removed_on_start(tmp_path: Path) -> None:
    ckpt_dir = tmp_path / "checkpoints"
    ckpt_dir.mkdir(parents=True)
    save_weights({"w": torch.zeros(2)}, tmp_path / "backbone.safetensors")
    # the names the writers really use (a kill -9 mid-write leaves them), and two written by hand
    stale = [Path(tempfile.mkstemp(prefix=TEMP_PREFIX, dir=ckpt_dir)[1]),
             Path(_temp_beside(tmp_path / "backbone.safetensors")),
             ckpt_dir / ".tmp_ckpt_a1b2c3d4", tmp_path / ".backbone.safetensors.k9_x7q2z.tmp"]
    kept = [tmp_path / "notes.tmp", tmp_path / ".tmp_ckpt_x", ckpt_dir / "my.tmp", tmp_path / "backbone.safetensors",
            tmp_path / "sub" / ".tmp_ckpt_a1b2c3d4", tmp_path / "sub" / ".backbone.safetensors.k9_x7q2z.tmp"]
    for p in stale + kept[:3] + kept[4:]:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"partial")
    Trainer(RegTask(), NoisyRegression(), *_cfgs(tmp_path))
    assert [p for p in stale if p.exists()] == []
    assert all(p.exists() for p in kept)


@dataclasses.dataclass
class ModelCfg:
    hidden: int = 16


@dataclasses.dataclass
class RunCfg:
    model: ModelCfg = dataclasses.field(default_factory=ModelCfg)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)


class WidthTask(Task):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        return {"loss": (self.net(batch["x"]) - batch["y"]).pow(2).mean()}


def _run(cfg: RunCfg) -> Trainer:
    return Trainer(WidthTask(cfg.model.hidden), NoisyRegression(), cfg.train, cfg.optim, config=cfg)


def _first_run(out: Path) -> RunCfg:
    train, optim = _cfgs(out, max_steps=8, resume="auto")
    cfg = RunCfg(ModelCfg(16), train, optim)
    _run(cfg).fit()
    return cfg


@pytest.mark.parametrize("change", ["model.hidden", "optim.lr"])
def test_resume_with_another_config_is_refused_before_anything_is_written(tmp_path: Path, change: str) -> None:
    cfg = _first_run(tmp_path)
    saved = (tmp_path / "config.yaml").read_text()
    files = sorted(p for p in tmp_path.rglob("*"))
    if change == "model.hidden":
        new = dataclasses.replace(cfg, model=ModelCfg(32))
        expected = r"model\.hidden: 16 -> 32"
    else:
        new = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, lr=0.5))
        expected = r"optim\.lr: 0\.01 -> 0\.5"
    with pytest.raises(ResumeConfigError, match=expected) as err:
        _run(new)
    msg = str(err.value)
    assert isinstance(err.value, ConfigError) and "\n" not in msg
    assert "--train.out_dir" in msg and "--train.resume none" in msg
    assert (tmp_path / "config.yaml").read_text() == saved
    assert sorted(p for p in tmp_path.rglob("*")) == files  # nothing written, nothing removed
    _run(dataclasses.replace(new, train=dataclasses.replace(new.train, out_dir=str(tmp_path / "new")))).fit()


def test_resume_accepts_keys_that_are_safe_to_change(tmp_path: Path) -> None:
    cfg = _first_run(tmp_path)
    longer = dataclasses.replace(cfg.train, max_steps=12, log_every=3, ckpt_every=6, keep_last=5, num_workers=0)
    trainer = _run(dataclasses.replace(cfg, train=longer))
    assert trainer.step == 8 and trainer.total_steps == 12
    assert trainer.fit()["steps"] == 12
    assert "max_steps: 12" in (tmp_path / "config.yaml").read_text()


def test_a_checkpoint_without_stored_config_is_compared_with_config_yaml(tmp_path: Path) -> None:
    cfg = _first_run(tmp_path)
    for p in list_checkpoints(tmp_path / "checkpoints"):  # a checkpoint of an older engine: no "config" entry
        state = torch.load(p, weights_only=True)
        state.pop("config")
        torch.save(state, p)
    with pytest.raises(ResumeConfigError, match=r"config\.yaml.*model\.hidden: 16 -> 24"):
        _run(dataclasses.replace(cfg, model=ModelCfg(24)))


def test_explicit_checkpoint_of_another_architecture_gives_one_line(tmp_path: Path) -> None:
    cfg = _first_run(tmp_path / "a")
    train = dataclasses.replace(cfg.train, out_dir=str(tmp_path / "b"),
                                resume=str(tmp_path / "a" / "checkpoints" / "ckpt_00000008.pt"))
    with pytest.raises(CheckpointError, match=r"does not fit this model .*shape differs: net\.0\.weight") as err:
        _run(RunCfg(ModelCfg(32), train, cfg.optim))
    assert "\n" not in str(err.value)


def test_config_differences_and_safe_keys() -> None:
    old = {"model": {"depth": 2, "dims": [1, 2]}, "train": {"max_steps": 5, "seed": 0}, "eval": {"k": 1}}
    new = {"model": {"depth": 2, "dims": [1, 3]}, "train": {"max_steps": 9, "seed": 0}, "extra": 1}
    assert config_differences(old, new) == [("model.dims", [1, 2], [1, 3]), ("train.max_steps", 5, 9),
                                            ("extra", "<absent>", 1), ("eval", {"k": 1}, "<absent>")]
    assert "train.max_steps" in SAFE_ON_RESUME and "train.seed" not in SAFE_ON_RESUME
    assert not any(k.startswith(("optim", "model")) for k in SAFE_ON_RESUME)
