"""Task hooks the Trainer honours: micro-batch draws under grad_accum, setup(total_steps), param_groups."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from sparse_core.engine import OptimConfig, ParamGroup, Task, TrainConfig, Trainer, build_optimizer
from sparse_core.engine.optim import clip_grad_groups

sys.path.insert(0, str(Path(__file__).parent))
from test_engine import NoisyRegression, RegTask


def _train(out: Path, **kw: object) -> TrainConfig:
    base: dict = {"out_dir": str(out), "max_steps": 3, "batch_size": 8, "seed": 5, "ckpt_every": 100,
                  "log_every": 1, "progress": False, "resume": "none"}
    return TrainConfig(**{**base, **kw})


def _grads_at_each_step(trainer: Trainer) -> list[dict[str, torch.Tensor]]:
    """The gradients the optimizer steps with (after accumulation and clipping), one dict per step."""
    seen: list[dict[str, torch.Tensor]] = []
    task = trainer.unwrapped

    def hook(*_: object) -> None:
        seen.append({n: p.grad.clone() for n, p in task.named_parameters() if p.grad is not None})

    trainer.optimizer.optimizer.register_step_pre_hook(hook)
    return seen


class FeatureDropTask(Task):
    """Drops random input features per sample, drawn from ``Task.generator`` for the step's whole batch.

    No dropout, no batch statistics: the loss is a mean of per-sample terms, so the gradient of a step does not
    depend on how the batch is cut into micro-batches, provided each sample gets the same random draw.
    """

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))

    def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        x = batch["x"]
        rows = self.rows(x.shape[0])
        keep = torch.rand(rows.total, 8, generator=self.generator(step, "features"))[rows.rows] > 0.4  # (b, 8)
        return {"loss": (self.net(x * keep) - batch["y"]).pow(2).mean()}


def test_grad_accum_gradient_equals_whole_batch_gradient(tmp_path: Path) -> None:
    torch.manual_seed(0)
    init = FeatureDropTask().state_dict()
    grads = {}
    for accum in (1, 2):
        task = FeatureDropTask()
        task.load_state_dict(init)
        trainer = Trainer(task, NoisyRegression(), _train(tmp_path / str(accum), grad_accum=accum),
                          OptimConfig(lr=1e-2, weight_decay=0.0))
        grads[accum] = _grads_at_each_step(trainer)
        trainer.fit()
    assert len(grads[1]) == len(grads[2]) == 3
    for whole, accumulated in zip(grads[1], grads[2], strict=True):
        for name, g in whole.items():
            torch.testing.assert_close(accumulated[name], g, rtol=1e-5, atol=1e-7, msg=name)


class SetupTask(RegTask):
    """Records the order of ``setup`` calls and training steps."""

    def __init__(self, calls: list, crash_at: int | None = None) -> None:
        super().__init__(crash_at=crash_at)
        self.calls = calls

    def setup(self, total_steps: int) -> None:
        self.calls.append(("setup", total_steps))

    def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        if not self.calls or self.calls[-1] != ("step", step):
            self.calls.append(("step", step))
        return super().training_step(batch, step)


def test_setup_is_called_before_step_zero_and_on_resume(tmp_path: Path) -> None:
    calls: list = []
    train = _train(tmp_path, max_steps=None, epochs=2, ckpt_every=4, resume="auto")  # 2 x 64 // 8 = 16 steps
    with pytest.raises(KeyboardInterrupt):
        Trainer(SetupTask(calls, crash_at=6), NoisyRegression(), train, OptimConfig()).fit()
    assert calls[:2] == [("setup", 16), ("step", 0)] and calls.count(("setup", 16)) == 1
    resumed: list = []
    trainer = Trainer(SetupTask(resumed), NoisyRegression(), train, OptimConfig())
    assert trainer.step == 4 and resumed == [("setup", 16)]  # before the first step of the resumed run
    trainer.fit()
    assert resumed[:2] == [("setup", 16), ("step", 4)] and resumed[-1] == ("step", 15)


class GanLikeTask(Task):
    """A generator and a discriminator; the discriminator gets its own lr scale, weight decay and clip norm."""

    def __init__(self, disc: ParamGroup | None) -> None:
        super().__init__()
        self.gen = nn.Linear(8, 4)
        self.disc = nn.Linear(8, 1)
        self.disc_group = disc

    def param_groups(self) -> list[ParamGroup] | None:
        return None if self.disc_group is None else [self.disc_group]

    def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        x = batch["x"]
        return {"loss": self.gen(x).pow(2).mean() + 50.0 * self.disc(x).pow(2).mean()}


def test_param_groups_give_the_discriminator_its_own_lr_and_weight_decay() -> None:
    optim = OptimConfig(lr=1e-3, weight_decay=0.05)
    task = GanLikeTask(ParamGroup("disc", lr_scale=0.25, weight_decay=0.3, clip_grad=0.5))
    groups = {tuple(g["names"]): g for g in build_optimizer(task, optim, 1e-3).param_groups}
    assert set(groups) == {("gen.weight",), ("gen.bias",), ("disc.weight",), ("disc.bias",)}
    assert groups[("disc.weight",)]["lr_scale"] == 0.25 and groups[("disc.bias",)]["lr_scale"] == 0.25
    assert groups[("disc.weight",)]["weight_decay"] == 0.3 and not groups[("disc.weight",)]["apply_wd"]
    assert groups[("disc.bias",)]["weight_decay"] == 0.0  # biases get no decay in every group
    assert groups[("gen.weight",)]["weight_decay"] == 0.05 and groups[("gen.weight",)]["apply_wd"]
    assert groups[("gen.weight",)]["lr_scale"] == 1.0 and groups[("gen.weight",)]["clip_grad"] is None
    assert groups[("disc.weight",)]["clip_grad"] == 0.5
    default = build_optimizer(GanLikeTask(None), optim, 1e-3).param_groups  # no hook: today's two groups
    assert sorted(g["names"] for g in default) == [["gen.bias", "disc.bias"], ["gen.weight", "disc.weight"]]
    with pytest.raises(ValueError, match="owns no trainable parameter"):
        build_optimizer(GanLikeTask(ParamGroup("critic")), optim, 1e-3)


def test_clip_grad_groups_clips_each_group_on_its_own() -> None:
    task = GanLikeTask(ParamGroup("disc", clip_grad=0.5))
    opt = build_optimizer(task, OptimConfig(), 1e-3)
    torch.manual_seed(0)
    for p in task.parameters():
        p.grad = 3.0 * torch.randn_like(p)
    before = {n: p.grad.clone() for n, p in task.named_parameters()}

    def norm(prefix: str) -> float:
        return float(torch.cat([g.flatten() for n, g in before.items() if n.startswith(prefix)]).norm())

    gen_norm, disc_norm = norm("gen."), norm("disc.")
    norms = clip_grad_groups(opt, clip_grad=1.0)
    assert norms == pytest.approx({"grad_norm": gen_norm, "grad_norm/disc": disc_norm})
    for n, p in task.named_parameters():  # each set scaled by its own factor min(1, max_norm / norm)
        scale = min(1.0, (0.5 / disc_norm) if n.startswith("disc.") else (1.0 / gen_norm))
        torch.testing.assert_close(p.grad, before[n] * scale, rtol=1e-5, atol=1e-6)


def test_trainer_schedules_and_clips_the_groups(tmp_path: Path) -> None:
    optim = OptimConfig(lr=1e-2, warmup_steps=1, weight_decay=0.05, weight_decay_end=0.01)
    task = GanLikeTask(ParamGroup("disc", lr_scale=0.5, weight_decay=0.2, clip_grad=1e-3))
    trainer = Trainer(task, NoisyRegression(), _train(tmp_path, max_steps=4, clip_grad=100.0), optim)
    settings: list[dict[str, tuple[float, float]]] = []
    seen = _grads_at_each_step(trainer)
    trainer.optimizer.optimizer.register_step_pre_hook(lambda *_: settings.append(
        {g["names"][0]: (g["lr"], g["weight_decay"]) for g in trainer.optimizer.param_groups}))
    res = trainer.fit()
    for step, s in enumerate(settings):
        lr, wd = trainer.lr_at(step), trainer.wd_at(step)
        assert s["gen.weight"] == pytest.approx((lr, wd)) and s["gen.bias"] == pytest.approx((lr, 0.0))
        assert s["disc.weight"] == pytest.approx((0.5 * lr, 0.2)) and s["disc.bias"] == pytest.approx((0.5 * lr, 0))
    last = seen[-1]
    disc = torch.cat([last["disc.weight"].flatten(), last["disc.bias"]]).norm()
    gen = torch.cat([last["gen.weight"].flatten(), last["gen.bias"]]).norm()
    assert float(disc) == pytest.approx(1e-3, rel=1e-4) and res["metrics"]["grad_norm/disc"] > 1e-2
    assert float(gen) == pytest.approx(res["metrics"]["grad_norm"], rel=1e-5)  # not scaled by the disc's clip
