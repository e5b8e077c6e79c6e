"""Training engine: learning, exact resume, non-finite stop, checkpoints, param groups, schedules, sampler."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from sparse_core.engine import (
    NonFiniteLossError,
    OptimConfig,
    Task,
    TrainConfig,
    Trainer,
    cosine_schedule,
    load_checkpoint,
    param_groups,
    save_checkpoint,
)
from sparse_core.engine.checkpoint import list_checkpoints
from sparse_core.engine.sampler import StepBatchSampler, StreamState, advance


class NoisyRegression(torch.utils.data.Dataset):
    """y = x @ w_true; each read adds augmentation noise from the global torch RNG; some indices corrupt."""

    def __init__(self, n: int = 64, corrupt: tuple[int, ...] = ()) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 8, generator=g)
        self.y = self.x @ torch.randn(8, 1, generator=g)
        self.corrupt = set(corrupt)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict | None:
        if i in self.corrupt:
            return None
        return {"x": self.x[i] + 0.01 * torch.randn(8), "y": self.y[i]}


class RegTask(Task):
    def __init__(self, nan_at: int | None = None, crash_at: int | None = None) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16), nn.Dropout(0.1), nn.Linear(16, 1))
        self.nan_at, self.crash_at = nan_at, crash_at

    def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
        if step == self.crash_at:
            raise KeyboardInterrupt("simulated kill")
        loss = (self.net(batch["x"]) - batch["y"]).pow(2).mean()
        if step == self.nan_at:
            loss = loss * float("nan")
        return {"loss": loss, "mse": loss.detach()}


def _cfgs(out: Path, **kw) -> tuple[TrainConfig, OptimConfig]:
    train = TrainConfig(out_dir=str(out), max_steps=kw.pop("max_steps", 12), batch_size=8, seed=3,
                        ckpt_every=kw.pop("ckpt_every", 4), log_every=1, progress=False,
                        grad_accum=kw.pop("grad_accum", 1), resume=kw.pop("resume", "auto"))
    return train, OptimConfig(lr=kw.pop("lr", 1e-2), warmup_steps=2, weight_decay=0.05, min_lr=1e-4)


def _weights(task: Task) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in task.state_dict().items()}


def test_trainer_learns_and_writes_outputs(tmp_path: Path) -> None:
    torch.manual_seed(0)
    task = RegTask()
    train, optim = _cfgs(tmp_path, max_steps=60, ckpt_every=100, lr=3e-2)
    res = Trainer(task, NoisyRegression(), train, optim, config=train).fit()
    from sparse_core.engine.metrics import read_jsonl

    losses = [r["loss"] for r in read_jsonl(tmp_path / "metrics.jsonl")]
    assert len(losses) == 60
    assert sum(losses[-5:]) / 5 < 0.3 * sum(losses[:5]) / 5
    assert (tmp_path / "loss.png").stat().st_size > 1000
    assert (tmp_path / "config.yaml").read_text().count("batch_size: 8") == 1
    assert any((tmp_path / "tb").iterdir())
    assert res["steps"] == 60 and res["checkpoint"].name == "ckpt_00000060.pt"


@pytest.mark.parametrize("grad_accum", [1, 2])
def test_kill_and_resume_gives_identical_weights(tmp_path: Path, grad_accum: int) -> None:
    torch.manual_seed(0)
    ref = RegTask()
    init = _weights(ref)
    train, optim = _cfgs(tmp_path / "ref", grad_accum=grad_accum)
    Trainer(ref, NoisyRegression(), train, optim).fit()

    killed = RegTask(crash_at=6)
    killed.load_state_dict(init)
    train, optim = _cfgs(tmp_path / "run", grad_accum=grad_accum)
    with pytest.raises(KeyboardInterrupt):
        Trainer(killed, NoisyRegression(), train, optim).fit()
    assert [p.name for p in list_checkpoints(tmp_path / "run" / "checkpoints")] == ["ckpt_00000004.pt"]

    resumed = RegTask()  # fresh init: everything must come from the checkpoint
    trainer = Trainer(resumed, NoisyRegression(), train, optim)
    assert trainer.step == 4
    trainer.fit()
    final_ref, final = _weights(ref), _weights(resumed)
    for k in final_ref:
        assert torch.equal(final_ref[k], final[k]), k


def test_non_finite_loss_stops_with_step_and_keeps_checkpoint(tmp_path: Path) -> None:
    train, optim = _cfgs(tmp_path)
    with pytest.raises(NonFiniteLossError, match=r"at step 5.*ckpt_00000004\.pt"):
        Trainer(RegTask(nan_at=5), NoisyRegression(), train, optim).fit()
    ckpts = list_checkpoints(tmp_path / "checkpoints")
    assert [p.name for p in ckpts] == ["ckpt_00000004.pt"]
    state = load_checkpoint(ckpts[0])
    assert state["step"] == 4
    assert all(torch.isfinite(v).all() for v in state["task"].values())


def test_corrupt_samples_are_skipped_and_counted(tmp_path: Path) -> None:
    train, optim = _cfgs(tmp_path, max_steps=8, ckpt_every=100)
    res = Trainer(RegTask(), NoisyRegression(corrupt=(1, 5, 9)), train, optim).fit()
    assert res["num_skipped"] == 3  # 8 steps x 8 = 64 samples = the whole dataset once
    assert math.isfinite(res["metrics"]["loss"])


def test_empty_dataset_and_oversized_batch_fail_before_training(tmp_path: Path) -> None:
    train, optim = _cfgs(tmp_path)
    with pytest.raises(ValueError, match="empty"):
        Trainer(RegTask(), NoisyRegression(n=0), train, optim)
    with pytest.raises(ValueError, match="larger than the dataset"):
        Trainer(RegTask(), NoisyRegression(n=4), train, optim)


def test_bad_train_config_values() -> None:
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="fp8")
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)


def test_checkpoints_atomic_and_pruned(tmp_path: Path) -> None:
    for step in range(1, 6):
        save_checkpoint({"w": torch.full((2,), float(step))}, tmp_path, step, keep_last=2)
    (tmp_path / ".tmp_ckpt_partial").write_bytes(b"garbage")  # a crash mid-write leaves only a temp file
    names = [p.name for p in list_checkpoints(tmp_path)]
    assert names == ["ckpt_00000004.pt", "ckpt_00000005.pt"]
    assert torch.equal(load_checkpoint(tmp_path / names[-1])["w"], torch.full((2,), 5.0))


def test_param_groups_no_decay_and_layer_decay() -> None:
    import timm

    vit = timm.create_model("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=3, num_classes=0)
    groups = param_groups(vit, weight_decay=0.1, layer_decay=0.5)
    by_name = {n: g for g in groups for n in g["names"]}
    assert by_name["pos_embed"]["weight_decay"] == 0.0 and by_name["cls_token"]["weight_decay"] == 0.0
    assert by_name["blocks.0.norm1.weight"]["weight_decay"] == 0.0
    assert by_name["blocks.0.attn.qkv.bias"]["weight_decay"] == 0.0
    assert by_name["blocks.0.attn.qkv.weight"]["weight_decay"] == 0.1
    # L = 3 blocks: embeddings 0.5**4, block i -> 0.5**(3 - i), final norm 1
    assert by_name["patch_embed.proj.weight"]["lr_scale"] == pytest.approx(0.5**4)
    assert by_name["blocks.0.mlp.fc1.weight"]["lr_scale"] == pytest.approx(0.5**3)
    assert by_name["blocks.2.mlp.fc1.weight"]["lr_scale"] == pytest.approx(0.5)
    assert by_name["norm.weight"]["lr_scale"] == pytest.approx(1.0)
    frozen = nn.Linear(2, 2)
    frozen.weight.requires_grad_(False)
    assert [g["names"] for g in param_groups(frozen, 0.1)] == [["bias"]]


def test_cosine_schedule_matches_formula() -> None:
    total, warm = 110, 10
    assert cosine_schedule(0, total, 1.0, 0.1, warm) == 0.0
    assert cosine_schedule(5, total, 1.0, 0.1, warm) == pytest.approx(0.5)
    assert cosine_schedule(10, total, 1.0, 0.1, warm) == pytest.approx(1.0)
    for s in (10, 37, 60, 109):
        expected = 0.1 + 0.45 * (1 + math.cos(math.pi * (s - warm) / (total - 1 - warm)))
        assert cosine_schedule(s, total, 1.0, 0.1, warm) == pytest.approx(expected)
    assert cosine_schedule(109, total, 1.0, 0.1, warm) == pytest.approx(0.1)


def test_sampler_ranks_partition_global_batch_and_resume() -> None:
    def batches(rank: int, world: int, start_step: int = 0, state: StreamState | None = None) -> list[list[int]]:
        s = StepBatchSampler(20, 8, total_steps=6, seed=1, rank=rank, world_size=world, grad_accum=2,
                             start_step=start_step, start_state=state)
        return [[i for i, _ in b] for b in s]

    single = batches(0, 1)
    r0, r1 = batches(0, 2), batches(1, 2)
    for step in range(6):
        whole = single[2 * step] + single[2 * step + 1]
        split = r0[2 * step] + r0[2 * step + 1] + r1[2 * step] + r1[2 * step + 1]
        assert whole == split and len(set(whole)) == 8
    state = StreamState()
    for _ in range(3):
        state, _, _ = advance(state, 8, 20)
    assert batches(0, 1, start_step=3, state=state) == single[6:]
    assert state.epoch == 1  # 20 samples, drop-last: the third batch starts epoch 1
    with pytest.raises(ValueError, match="divisible"):
        StepBatchSampler(20, 6, total_steps=2, world_size=4)


def test_bf16_autocast_trains_on_cpu(tmp_path: Path) -> None:
    class ProbeTask(RegTask):
        dtypes: list[torch.dtype] = []

        def training_step(self, batch: dict, step: int) -> dict[str, torch.Tensor]:
            self.dtypes.append(self.net[0](batch["x"]).dtype)
            return super().training_step(batch, step)

    train, optim = _cfgs(tmp_path, max_steps=20, ckpt_every=100, lr=3e-2)
    train.precision = "bf16"
    task = ProbeTask()
    res = Trainer(task, NoisyRegression(), train, optim).fit()
    assert set(ProbeTask.dtypes) == {torch.bfloat16}  # matmuls ran under bf16 autocast
    assert task.net[0].weight.dtype == torch.float32  # master weights stay fp32
    assert math.isfinite(res["metrics"]["loss"])
