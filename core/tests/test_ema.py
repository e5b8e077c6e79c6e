"""EMA teacher math, eval mode, wrappers, state and the cosine momentum schedule."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sparse_core.ema import EMATeacher, cosine_momentum, unwrap_model


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Dropout(0.5), nn.Linear(6, 3))


class _Wrapper(nn.Module):
    """Stands in for DDP / accelerate wrappers, which expose the real model as ``.module``."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


def test_ema_update_math_and_buffers() -> None:
    student = _net()
    teacher = EMATeacher(student)
    t0 = {k: v.clone() for k, v in teacher.module.state_dict().items()}
    moms = [0.9, 0.5]
    expected = {k: v.clone() for k, v in t0.items() if "running" not in k and "num_batches" not in k}
    for m in moms:
        with torch.no_grad():
            for p in student.parameters():
                p.add_(torch.randn_like(p))
        student.train()
        student(torch.randn(8, 4))  # changes BN running statistics
        teacher.update(student, m)
        s_state = student.state_dict()
        for k in expected:
            expected[k] = m * expected[k] + (1 - m) * s_state[k]
    t_state = teacher.module.state_dict()
    for k, v in expected.items():
        torch.testing.assert_close(t_state[k], v)
    for k in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
        assert torch.equal(t_state[k], student.state_dict()[k])  # buffers are copied


def test_ema_momentum_limits() -> None:
    student = _net()
    teacher = EMATeacher(student)
    before = [p.clone() for p in teacher.parameters()]
    with torch.no_grad():
        for p in student.parameters():
            p.mul_(3.0)
    teacher.update(student, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters()))
    teacher.update(student, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(student.parameters(), teacher.parameters()))
    with pytest.raises(ValueError):
        teacher.update(student, 1.5)


def test_ema_teacher_no_grad_and_always_eval() -> None:
    student = _net()
    teacher = EMATeacher(student)
    assert all(not p.requires_grad for p in teacher.parameters())
    assert all(p.requires_grad for p in student.parameters())  # the student is untouched
    parent = nn.ModuleDict({"student": student, "teacher": teacher})
    parent.train()
    assert student.training and not teacher.training and not teacher.module.training
    assert not any(m.training for m in teacher.modules())
    x = torch.randn(5, 4, requires_grad=True)
    out = teacher(x)
    assert not out.requires_grad
    torch.testing.assert_close(out, teacher(x))  # eval mode: dropout off, deterministic


def test_ema_unwraps_module_wrappers_and_state_dict_roundtrip() -> None:
    student = _net()
    wrapped = _Wrapper(_Wrapper(student))
    assert unwrap_model(wrapped) is student
    teacher = EMATeacher(wrapped)
    assert not isinstance(teacher.module, _Wrapper)
    with torch.no_grad():
        for p in student.parameters():
            p.fill_(1.0)
    teacher.update(wrapped, 0.75)
    state = teacher.state_dict()
    assert all(k.startswith("module.") for k in state)
    other = EMATeacher(_net())
    other.load_state_dict(state)
    for a, b in zip(other.parameters(), teacher.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError):
        teacher.update(nn.Linear(4, 3), 0.5)


def test_cosine_momentum() -> None:
    assert cosine_momentum(0, 100, 0.996, 1.0) == pytest.approx(0.996)
    assert cosine_momentum(50, 100, 0.996, 1.0) == pytest.approx(0.998)
    assert cosine_momentum(100, 100, 0.996, 1.0) == pytest.approx(1.0)
    assert cosine_momentum(150, 100, 0.996, 1.0) == pytest.approx(1.0)
    s = 30
    assert cosine_momentum(s, 100, 0.99, 1.0) == pytest.approx(1 - 0.01 * (1 + math.cos(math.pi * 0.3)) / 2)
    values = [cosine_momentum(i, 20) for i in range(21)]
    assert all(a <= b for a, b in zip(values, values[1:]))


def test_ema_of_weight_normed_dino_head() -> None:
    from sparse_core.heads import DINOHead

    student = DINOHead(8, out_dim=12, hidden_dim=16, bottleneck_dim=4)
    teacher = EMATeacher(student)
    v_s = student.last_layer.parametrizations.weight.original1
    v_t = teacher.module.last_layer.parametrizations.weight.original1
    before = v_t.clone()
    with torch.no_grad():
        v_s.add_(1.0)
    teacher.update(student, 0.9)
    torch.testing.assert_close(v_t, 0.9 * before + 0.1 * v_s.detach())
    x = torch.randn(3, 8)
    assert teacher(x).shape == (3, 12)
