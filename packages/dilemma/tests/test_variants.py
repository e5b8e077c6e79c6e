"""Every variant and ablation trains: finite loss, and the loss falls on a fixed batch."""

from __future__ import annotations

import pytest
import torch
from dilemma_test_utils import fixed_views, tiny_method, tiny_model

from dilemma_ssl.schedule import SparsitySchedule
from dilemma_ssl.variants import TASKS

CASES = [
    ("mocov3", "dilemma"),
    ("mocov3", "none"),
    ("mocov3", "position_correction"),
    ("mocov3", "partial_jigsaw"),
    ("mocov3", "flip_detection"),
    ("simclr", "dilemma"),
    ("dino", "dilemma"),
    ("mae", "dilemma"),
]


def _task(variant: str, objective: str, schedule: SparsitySchedule, **method: object) -> torch.nn.Module:
    cfg = tiny_method(variant=variant, objective=objective, **method)
    return TASKS[variant](tiny_model(), cfg, schedule, seed=0)


@pytest.mark.parametrize(("variant", "objective"), CASES)
def test_a_few_random_schedule_steps_are_finite(variant: str, objective: str) -> None:
    task = _task(variant, objective, SparsitySchedule(8, seed=0))
    opt = torch.optim.AdamW([p for p in task.parameters() if p.requires_grad], lr=1e-3)
    batch = fixed_views(variant)
    for step in range(3):
        out = task.training_step(batch, step)
        assert torch.isfinite(out["loss"])
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        task.on_after_step(step, 10)


@pytest.mark.parametrize(
    ("variant", "objective"),
    [  # DINO + DILEMMA takes > 10 s on 2 CPU cores
        pytest.param(*c, marks=pytest.mark.slow) if c == ("dino", "dilemma") else c
        for c in [*CASES, ("mocov3", "attention_policy")]
    ],
)
def test_loss_decreases_on_a_fixed_batch(variant: str, objective: str) -> None:
    extra: dict[str, object] = {}
    if objective == "attention_policy":
        objective, extra = "dilemma", {"drop_policy": "attention"}
    ratio = 0.75 if variant == "mae" else 0.5
    task = _task(variant, objective, SparsitySchedule.constant(8, ratio), **extra)
    if (
        variant == "dino"
    ):  # on one fixed batch DINO's centering drives the targets to uniform by design: freeze it
        task.dino_loss.center_momentum = 1.0
    opt = torch.optim.AdamW([p for p in task.parameters() if p.requires_grad], lr=1e-3)
    batch = fixed_views(variant)
    losses = []
    for step in range(30):
        out = task.training_step(batch, 0)  # same step: same tokens, a truly fixed problem
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        task.on_after_step(step, 10_000)
        losses.append(out["loss"].item())
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.9 * first, losses


@pytest.mark.parametrize(
    ("variant", "reduction", "expected"),
    [("mocov3", "sum", 3.0), ("mocov3", "mean", 1.5), ("simclr", "sum", 1.5), ("dino", "sum", 1.5)],
)
def test_token_loss_views_reduce_like_the_main_loss(variant: str, reduction: str, expected: float,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # eq. 3.4 with MoCo v3's symmetrised (summed) contrastive loss: the token losses of the two student views
    # are summed; SimCLR's NT-Xent and DINO's loss average over views, so do their token losses; the 'mean'
    # ablation averages. Each view's token loss is replaced by a known value: view 0 -> 1, view 1 -> 2.
    torch.manual_seed(0)
    task = TASKS[variant](tiny_model(), tiny_method(variant=variant, token_reduction=reduction),
                          SparsitySchedule.constant(8, 0.5), seed=0)
    calls: list[int] = []

    def fake(tokens: torch.Tensor, corr: object) -> tuple[torch.Tensor, torch.Tensor]:
        calls.append(1)
        return tokens.sum() * 0.0 + float(len(calls)), torch.tensor(0.5)

    monkeypatch.setattr(task, "token_loss", fake)
    out = task.training_step(fixed_views(variant), 3)
    assert len(calls) == 2
    assert out["loss_token"].item() == pytest.approx(expected)
    main = out["loss"] - task.method_cfg.lambda_dilemma * out["loss_token"]
    key = "loss_dino" if variant == "dino" else "loss_contrastive"
    assert main.item() == pytest.approx(out[key].item(), rel=1e-5)
