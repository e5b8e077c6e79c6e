"""The EMA teacher's batch-statistics BN option (MoCo v3's momentum encoder runs BN in train mode)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sparse_core.ema import EMATeacher, batchnorm_batch_stats


def _student() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))
    with torch.no_grad():  # running statistics far from any batch's
        net[1].running_mean.fill_(5.0)
        net[1].running_var.fill_(9.0)
    return net


def _batch_stats_forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The same network with BN normalising by the biased batch mean / variance (its train-mode forward)."""
    bn = net[1]
    h = net[0](x)
    h = (h - h.mean(0)) / (h.var(0, unbiased=False) + bn.eps).sqrt() * bn.weight + bn.bias
    return net[3](F.relu(h))


def test_teacher_forward_uses_batch_statistics_and_keeps_running_ones() -> None:
    student = _student()
    x = torch.randn(16, 4)
    plain, batch_stats = EMATeacher(student), EMATeacher(student, bn_batch_stats=True)
    before = {k: v.clone() for k, v in batch_stats.module.state_dict().items()}
    torch.testing.assert_close(batch_stats(x), _batch_stats_forward(student, x))
    with torch.no_grad():
        torch.testing.assert_close(plain(x), student.eval()(x))  # running statistics by default
    for k, v in batch_stats.module.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not batch_stats.module[1].training and batch_stats.module[1].track_running_stats


def test_context_manager_restores_modes() -> None:
    net = _student().eval()
    net[1].train()  # a mixed state must come back as it was
    with batchnorm_batch_stats(net):
        assert net[1].training and not net[1].track_running_stats and not net[0].training
    assert net[1].training and net[1].track_running_stats and not net[0].training
    assert float(net[1].running_mean[0]) == 5.0
