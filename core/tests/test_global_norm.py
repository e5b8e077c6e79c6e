"""GlobalBatchNorm1d / 2d on 2 gloo processes equal torch's BatchNorm on one process holding the whole batch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sparse_core.models.global_norm import GlobalBatchNorm1d, GlobalBatchNorm2d, global_batchnorm
from sparse_core.testing import run_distributed

SHAPES = {"1d": (8, 5), "1d_seq": (8, 5, 3), "2d": (8, 5, 4, 4)}


def _layers(kind: str) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    ref = nn.BatchNorm2d(5) if kind == "2d" else nn.BatchNorm1d(5)
    nn.init.normal_(ref.weight)
    nn.init.normal_(ref.bias)
    glob = (GlobalBatchNorm2d if kind == "2d" else GlobalBatchNorm1d)(5)
    glob.load_state_dict(ref.state_dict())
    return ref, glob


def _data(kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(*SHAPES[kind], generator=g) * 3 + 1, torch.randn(*SHAPES[kind], generator=g)


def _step(layer: nn.Module, x: torch.Tensor, w: torch.Tensor) -> dict[str, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    (layer(x) * w).sum().backward()
    return {"x_grad": x.grad, "w_grad": layer.weight.grad, "b_grad": layer.bias.grad,
            "running_mean": layer.running_mean, "running_var": layer.running_var}


def _rank(rank: int, world: int, kind: str) -> dict[str, torch.Tensor]:
    _, glob = _layers(kind)
    x, w = _data(kind)
    rows = slice(rank * 4, rank * 4 + 4)
    out = _step(glob, x[rows], w[rows])
    torch.distributed.all_reduce(out["w_grad"])  # DDP sums the parameter gradients of the ranks' losses
    torch.distributed.all_reduce(out["b_grad"])
    return out


@pytest.mark.parametrize("kind", list(SHAPES))
def test_two_processes_equal_one_holding_the_batch(kind: str) -> None:
    ref, _ = _layers(kind)
    x, w = _data(kind)
    want = _step(ref, x, w)
    ranks = run_distributed(_rank, kind)
    for rank, got in enumerate(ranks):
        rows = slice(rank * 4, rank * 4 + 4)
        torch.testing.assert_close(got["x_grad"], want["x_grad"][rows], atol=1e-6, rtol=1e-5)
        for key in ("w_grad", "b_grad", "running_mean", "running_var"):
            torch.testing.assert_close(got[key], want[key], atol=1e-6, rtol=1e-5)


def test_global_batchnorm_swaps_bn1d_and_keeps_state() -> None:
    head = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Sequential(nn.ReLU(), nn.BatchNorm1d(4)))
    head[1].running_mean.fill_(2.0)
    global_batchnorm(head)
    assert isinstance(head[1], GlobalBatchNorm1d) and isinstance(head[2][1], GlobalBatchNorm1d)
    assert torch.equal(head[1].running_mean, torch.full((4,), 2.0))
    x = torch.randn(6, 3)
    torch.testing.assert_close(head(x), nn.functional.batch_norm(  # one process: plain BatchNorm1d
        torch.relu(nn.functional.batch_norm(head[0](x), None, None, head[1].weight, head[1].bias, True)),
        None, None, head[2][1].weight, head[2][1].bias, True))
