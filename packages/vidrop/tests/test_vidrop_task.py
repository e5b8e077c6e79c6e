"""The ViDROP task: every loss finite, the loss decreasing on tiny data, EMA teacher, variants."""

from __future__ import annotations

import pytest
import torch
from vidrop_testutils import make_batch, tiny_config

from vidrop.task import ViDROPTask


def _train(task: ViDROPTask, batch: dict, steps: int, lr: float = 2e-3) -> list[dict[str, float]]:
    opt = torch.optim.AdamW([p for p in task.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    hist = []
    for s in range(steps):
        out = task.training_step(batch, s)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        task.on_after_step(s, steps)
        hist.append({k: float(v.detach()) for k, v in out.items()})
    return hist


def test_loss_decreases_on_tiny_data() -> None:
    torch.manual_seed(0)
    cfg = tiny_config(teacher_temp_warmup_frac=0.0)
    task = ViDROPTask(cfg, total_steps=20)
    batch = make_batch(cfg, 8)
    hist = _train(task, batch, 20)
    for h in hist:
        assert all(torch.isfinite(torch.tensor(v)) for v in h.values())
    first = sum(h["loss"] for h in hist[:3]) / 3
    last = sum(h["loss"] for h in hist[-3:]) / 3
    assert last < first - 0.1, (first, last)
    for key in ("dino_loss", "ibot_loss"):
        assert sum(h[key] for h in hist[-3:]) < sum(h[key] for h in hist[:3]), key


@pytest.mark.parametrize("overrides", [
    {"variant": "dino"},
    {"variant": "stare"},
    {"centering": "centering"},
])
def test_variants_finite_and_train(overrides: dict) -> None:
    torch.manual_seed(0)
    cfg = tiny_config(**overrides)
    task = ViDROPTask(cfg, total_steps=4)
    hist = _train(task, make_batch(cfg, 4), 4)
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in hist)
    assert ("ibot_loss" in hist[0]) == (cfg.loss.variant != "dino")


def test_shared_head_and_dense_student() -> None:
    cfg = tiny_config()
    cfg.head.shared = True
    cfg.tokens.drop_ratio = 0.0
    cfg.views.num_local = 0
    task = ViDROPTask(cfg, total_steps=2)
    assert "ibot_head" not in task.student
    out = task.training_step(make_batch(cfg, 4), 0)
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert task.student["dino_head"].mlp[0].weight.grad is not None


def test_teacher_is_ema_of_student_and_gets_no_gradient() -> None:
    torch.manual_seed(0)
    cfg = tiny_config()
    task = ViDROPTask(cfg, total_steps=10)
    assert not any(p.requires_grad for p in task.teacher.parameters())
    t0 = {k: v.clone() for k, v in task.teacher.module.state_dict().items()}
    _train(task, make_batch(cfg, 4), 2, lr=1e-2)
    s = task.student.state_dict()
    name = "backbone.vit.blocks.0.attn.qkv.weight"
    t1 = task.teacher.module.state_dict()[name]
    assert not torch.equal(t1, t0[name])  # moved ...
    assert (t1 - t0[name]).abs().max() < (s[name] - t0[name]).abs().max()  # ... less than the student


def test_teacher_temperature_and_momentum_schedules() -> None:
    cfg = tiny_config(teacher_temp_warmup_frac=0.5)
    task = ViDROPTask(cfg, total_steps=100)
    assert task.teacher_temp(0) == pytest.approx(0.04)
    assert task.teacher_temp(25) == pytest.approx(0.055)
    assert task.teacher_temp(80) == pytest.approx(0.07)


def _slice(batch: dict, lo: int, hi: int) -> dict:
    return {k: (v[lo:hi] if torch.is_tensor(v) else v) for k, v in batch.items()}


def test_grad_accum_two_micro_batches_equal_one_step_on_the_whole_batch() -> None:
    """With ``grad_accum = 2`` the accumulated gradient equals that of one step on the whole batch.

    A per-sample-safe configuration: DINO centering with ``center_momentum = 1`` rather than Sinkhorn-Knopp
    (which normalises over the whole batch) so that the centers, updated after every forward, are the same
    for both micro-batches and the whole batch; no KoLeo (its nearest neighbour is searched within the
    batch). The DINO and iBOT losses are then means of per-sample terms, and with the token draws being the
    rows of the whole-batch draw the two micro-batch losses average to the whole-batch loss.
    """
    cfg = tiny_config(centering="centering", center_momentum=1.0, koleo_weight=0.0, teacher_temp_warmup_frac=0.0)
    batch = make_batch(cfg, 8)
    torch.manual_seed(0)
    task = ViDROPTask(cfg, total_steps=10)
    whole = task(batch, 3)
    whole["loss"].backward()
    ref = {n: p.grad.clone() for n, p in task.named_parameters() if p.grad is not None}
    task.zero_grad(set_to_none=True)
    task.accum = 2
    masked = 0.0
    for m in range(2):
        out = task(_slice(batch, 4 * m, 4 * m + 4), 3, m)
        (out["loss"] / 2).backward()
        masked += float(out["masked_tokens"])
    assert masked == float(whole["masked_tokens"])  # the same tokens were masked overall
    got = {n: p.grad for n, p in task.named_parameters() if p.grad is not None}
    assert got.keys() == ref.keys() and len(ref) > 10
    for name, g in ref.items():
        torch.testing.assert_close(got[name], g, rtol=1e-4, atol=1e-6, msg=name)
