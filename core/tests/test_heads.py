"""Projection / prediction MLPs and the DINO head."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sparse_core.heads import DINOHead, MLPHead


def _bns(m: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [x for x in m.modules() if isinstance(x, nn.modules.batchnorm._BatchNorm)]


def test_mlp_head_moco_v3_layout() -> None:
    head = MLPHead(16, 32, 8, num_layers=3, norm="bn", last_norm=True)
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    assert [(lin.in_features, lin.out_features) for lin in linears] == [(16, 32), (32, 32), (32, 8)]
    assert all(lin.bias is None for lin in linears)  # every linear is followed by a BN
    bns = _bns(head)
    assert len(bns) == 3
    assert all(bn.affine for bn in bns[:-1])
    assert not bns[-1].affine and bns[-1].weight is None and bns[-1].bias is None
    out = head(torch.randn(5, 16))
    assert out.shape == (5, 8)
    # the last BN has no affine: training-mode outputs are standardised per feature
    torch.testing.assert_close(out.mean(0), torch.zeros(8), atol=1e-5, rtol=0)


def test_mlp_head_predictor_and_no_norm() -> None:
    pred = MLPHead(8, 16, 8, num_layers=2, last_norm=False)
    assert len(_bns(pred)) == 1 and isinstance(pred.mlp[-1], nn.Linear)
    plain = MLPHead(8, 16, 4, num_layers=2, norm="none")
    assert not _bns(plain)
    assert all(m.bias is not None for m in plain.modules() if isinstance(m, nn.Linear))
    one = MLPHead(8, 16, 4, num_layers=1, norm="none")
    assert len([m for m in one.modules() if isinstance(m, nn.Linear)]) == 1
    tokens = torch.randn(2, 7, 8)
    assert pred(tokens).shape == (2, 7, 8)  # leading dims are flattened for BN and restored
    with pytest.raises(ValueError):
        MLPHead(8, 16, 4, norm="ln")


def test_mlp_head_syncbn_builds_and_runs_single_process() -> None:
    head = MLPHead(8, 16, 4, norm="syncbn")
    assert all(isinstance(bn, nn.SyncBatchNorm) for bn in _bns(head)) and len(_bns(head)) == 3
    assert head(torch.randn(6, 8)).shape == (6, 4)


def test_dino_head_shapes_and_weight_norm() -> None:
    head = DINOHead(12, out_dim=50, hidden_dim=24, bottleneck_dim=6, num_layers=3)
    x = torch.randn(4, 12)
    out = head(x)
    assert out.shape == (4, 50)
    assert head(torch.randn(2, 3, 12)).shape == (2, 3, 50)
    g = head.last_layer.parametrizations.weight.original0
    assert not g.requires_grad and torch.all(g == 1)
    w = head.last_layer.weight  # (out_dim, bottleneck)
    torch.testing.assert_close(w.norm(dim=1), torch.ones(50))
    assert out.abs().max() <= 1 + 1e-5  # cosine between a unit bottleneck vector and unit prototypes
    out.sum().backward()
    assert head.last_layer.parametrizations.weight.original1.grad is not None
    assert g.grad is None
    assert all(isinstance(m, nn.GELU) for m in head.mlp if not isinstance(m, nn.Linear))


def test_dino_head_trainable_norm_and_depth() -> None:
    head = DINOHead(8, out_dim=10, hidden_dim=16, bottleneck_dim=4, num_layers=1, norm_last_layer=False)
    assert head.last_layer.parametrizations.weight.original0.requires_grad
    assert len([m for m in head.mlp if isinstance(m, nn.Linear)]) == 1
    bn_head = DINOHead(8, out_dim=10, hidden_dim=16, bottleneck_dim=4, num_layers=4, use_bn=True)
    assert len([m for m in bn_head.mlp if isinstance(m, nn.Linear)]) == 4
    assert len(_bns(bn_head)) == 3
    assert bn_head(torch.randn(3, 8)).shape == (3, 10)


def test_dino_head_dinov2_magnitude_starts_at_one_and_trains() -> None:
    torch.manual_seed(0)
    head = DINOHead(8, out_dim=10, hidden_dim=16, bottleneck_dim=4, norm_last_layer=False)  # DINOv2's head
    g = head.last_layer.parametrizations.weight.original0
    assert g.shape == (10, 1) and g.requires_grad and torch.equal(g, torch.ones_like(g))
    torch.testing.assert_close(head.last_layer.weight.norm(dim=1), torch.ones(10))  # unit prototypes at init
    opt = torch.optim.SGD(head.parameters(), lr=0.05)
    head(torch.randn(6, 8)).pow(2).sum().backward()
    assert g.grad is not None and g.grad.abs().sum() > 0
    opt.step()
    norms = head.last_layer.weight.norm(dim=1)  # the prototype norms are |g|: they moved off 1
    torch.testing.assert_close(norms, g.detach().abs().view(-1))
    assert not torch.allclose(norms, torch.ones(10))
