"""ViDROP's heads and optimizer follow DINOv2: trained prototype magnitude, first-epoch last-layer freeze, sqrt lr
rule with weight decay 0.04 -> 0.2 (facebookresearch/dinov2: layers/dino_head.py, train/train.py,
configs/ssl_default_config.yaml, utils/config.py)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from vidrop_testutils import make_batch, tiny_config

from sparse_core.config import ConfigError, parse_config
from sparse_core.engine import OptimConfig, TrainConfig, Trainer
from sparse_core.engine.optim import scaled_lr
from vidrop.config import CONFIG_DIR, DataConfig, ViDROPConfig
from vidrop.data.build import build_dataset
from vidrop.data.views import MultiClipViews
from vidrop.task import LAST_LAYER, ViDROPTask


def _magnitude(head: torch.nn.Module) -> torch.Tensor:
    return head.last_layer.parametrizations.weight.original0  # type: ignore[no-any-return]


def test_heads_train_the_prototype_magnitude_from_one() -> None:
    torch.manual_seed(0)
    cfg = tiny_config()
    task = ViDROPTask(cfg, total_steps=4)
    heads = [task.student["dino_head"], task.student["ibot_head"]]
    for head in heads:
        g = _magnitude(head)
        assert g.requires_grad and torch.equal(g, torch.ones_like(g))  # DINOv2: weight_g filled with 1, trained
    task.training_step(make_batch(cfg, 4), 0)["loss"].backward()
    for head in heads:
        grad = _magnitude(head).grad
        assert grad is not None and grad.abs().sum() > 0
    assert not any(p.requires_grad for p in task.teacher.parameters())  # the teacher's copy is EMA-only
    frozen = ViDROPTask(replace(cfg, head=replace(cfg.head, norm_last_layer=True)), total_steps=4)
    assert not _magnitude(frozen.student["dino_head"]).requires_grad  # DINO v1's norm_last_layer


def _fidelity_config(tmp_path: Path, weight_decay: float) -> ViDROPConfig:
    cfg = tiny_config()
    cfg.data = DataConfig(source="procedural", num_videos=8, num_frames=8, image_size=24, num_classes=4)
    cfg.train = TrainConfig(out_dir=str(tmp_path / "run"), max_steps=5, batch_size=4, seed=0, log_every=1,
                            ckpt_every=100, progress=False, resume="none")
    cfg.optim = replace(cfg.optim, weight_decay=weight_decay, weight_decay_end=weight_decay, warmup_steps=0)
    return cfg


def test_last_layer_bitwise_unchanged_during_the_freeze_then_trained(tmp_path: Path) -> None:
    cfg = _fidelity_config(tmp_path, weight_decay=0.5)  # a large decay: AdamW would visibly shrink the weights
    dataset = build_dataset(cfg.data, MultiClipViews(cfg.views))
    steps_per_epoch = len(dataset) // cfg.train.batch_size
    assert steps_per_epoch == 2
    torch.manual_seed(0)
    task = ViDROPTask(cfg, steps_per_epoch=steps_per_epoch)
    trainer = Trainer(task, dataset, cfg.train, cfg.optim)
    assert task.frozen_last_layer_steps == cfg.head.freeze_last_layer_epochs * steps_per_epoch == 2
    last = {n: p for n, p in task.named_parameters() if f".{LAST_LAYER}." in n and p.requires_grad}
    assert len(last) == 4  # magnitude and direction of both heads' prototype layers
    other = "student.dino_head.mlp.0.weight"
    params = dict(task.named_parameters())
    snapshots: list[dict[str, torch.Tensor]] = [{n: p.detach().clone() for n, p in params.items()}]
    groups: list[list[dict]] = []

    def record(*_: object) -> None:
        snapshots.append({n: p.detach().clone() for n, p in params.items()})
        groups.append([{k: g[k] for k in ("lr", "weight_decay", "names")} for g in trainer.optimizer.param_groups])

    trainer.optimizer.optimizer.register_step_post_hook(record)
    trainer.fit()
    assert len(snapshots) == 6
    for step in (0, 1):  # the frozen steps: lr 0 while weight decay is on, gradients flowing
        frozen = [g for g in groups[step] if any(f".{LAST_LAYER}." in n for n in g["names"])]
        assert frozen and all(g["lr"] == 0.0 for g in frozen)
        assert any(g["weight_decay"] == 0.5 for g in frozen)
        for name in last:
            assert torch.equal(snapshots[step + 1][name], snapshots[0][name]), (step, name)
        assert not torch.equal(snapshots[step + 1][other], snapshots[step][other])  # the rest trains
    for name in last:  # from step 2 on the prototype layers train
        assert not torch.equal(snapshots[3][name], snapshots[2][name]), name
    state = trainer.optimizer.optimizer.state
    g = params["student.dino_head.last_layer.parametrizations.weight.original0"]
    assert int(state[g]["step"]) == 5  # as DINOv2: lr 0, not skipped; Adam's moments saw every step


def test_no_freeze_gives_one_setting_for_all(tmp_path: Path) -> None:
    cfg = _fidelity_config(tmp_path, weight_decay=0.04)
    cfg.head.freeze_last_layer_epochs = 0
    task = ViDROPTask(cfg, steps_per_epoch=2)
    assert task.frozen_last_layer_steps == 0 and task.param_groups() is None
    cfg.head.freeze_last_layer_epochs = 3
    # without steps_per_epoch: the Trainer's epoch length when train.max_steps is None
    cfg.train = replace(cfg.train, max_steps=None, epochs=4)
    task = ViDROPTask(cfg)
    task.setup(20)
    assert task.frozen_last_layer_steps == 3 * (20 // 4)


def test_dinov2_lr_rule_and_weight_decay_are_the_defaults() -> None:
    default = ViDROPConfig().optim
    assert (default.lr, default.scale_lr, default.scale_lr_rule, default.scale_lr_batch) == (4e-3, True, "sqrt", 1024)
    assert (default.weight_decay, default.weight_decay_end, default.min_lr) == (0.04, 0.2, 1e-6)
    for batch in (64, 512, 1024, 4096):
        assert scaled_lr(default, batch) == pytest.approx(4e-3 * math.sqrt(batch / 1024), rel=1e-12)
    for name in ("vitb_k400_kmeans", "vitl_k400_raw"):
        cfg = parse_config(ViDROPConfig, ["--config", name], config_dir=CONFIG_DIR)
        assert scaled_lr(cfg.optim, cfg.train.batch_size) == pytest.approx(4e-3 * math.sqrt(512 / 1024), rel=1e-12)
        assert (cfg.optim.weight_decay, cfg.optim.weight_decay_end) == (0.04, 0.2)
        assert not cfg.head.norm_last_layer and cfg.head.freeze_last_layer_epochs == 1
    linear = OptimConfig(lr=5e-4, scale_lr=True)  # the engine's default rule stays linear in batch / 256
    assert scaled_lr(linear, 512) == pytest.approx(5e-4 * 512 / 256, rel=1e-12)
    assert scaled_lr(replace(default, scale_lr=False), 512) == 4e-3
    with pytest.raises(ConfigError, match="scale_lr_rule"):
        OptimConfig(scale_lr_rule="cube")
    with pytest.raises(ConfigError, match="scale_lr_batch"):
        OptimConfig(scale_lr_batch=0)


def test_trainer_peaks_at_the_sqrt_scaled_lr(tmp_path: Path) -> None:
    cfg = _fidelity_config(tmp_path, weight_decay=0.04)
    dataset = build_dataset(cfg.data, MultiClipViews(cfg.views))
    torch.manual_seed(0)
    trainer = Trainer(ViDROPTask(cfg, steps_per_epoch=2), dataset, cfg.train, cfg.optim)
    assert trainer.base_lr == pytest.approx(4e-3 * math.sqrt(4 / 1024), rel=1e-12)
    assert trainer.lr_at(0) == pytest.approx(trainer.base_lr, rel=1e-12)  # no warm-up in this config
