"""The predictor: shapes, the MSK token, box embeddings, gradients, config checks."""

from __future__ import annotations

import pytest
import torch

from scale_video.model import PredictorConfig, SCALEHeads, SCALEPredictor


def _model(**kw: object) -> SCALEPredictor:
    torch.manual_seed(0)
    return SCALEPredictor(12, PredictorConfig(hidden_dim=32, num_heads=4, dropout=0.0, **kw)).eval()


def test_shapes_and_backward() -> None:
    m = _model()
    f, b = torch.randn(3, 5, 12), torch.rand(3, 5, 6)
    cls, clips = m(f, b, torch.zeros(3, 5, dtype=torch.bool))
    assert cls.shape == (3, 32) and clips.shape == (3, 5, 32)
    (cls.sum() + clips.sum()).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())
    assert m.no_weight_decay() == {"cls_token", "mask_token"}


def test_masked_clip_input_is_the_msk_token() -> None:
    m = _model()
    f, b = torch.randn(2, 4, 12), torch.rand(2, 4, 6)
    mask = torch.tensor([[False, True, False, False], [False] * 4])
    out = m(f, b, mask)
    f2 = f.clone()
    f2[0, 1] = 100.0  # a masked clip's feature is never seen
    out2 = m(f2, b, mask)
    assert torch.allclose(out[0], out2[0]) and torch.allclose(out[1], out2[1])
    f2[1, 1] = 100.0  # an unmasked one is
    assert not torch.allclose(m(f2, b, mask)[0][1], out[0][1])


def test_boxes_change_the_output_and_order_does_not_matter() -> None:
    m = _model()
    f, b = torch.randn(1, 4, 12), torch.rand(1, 4, 6)
    cls, clips = m(f, b)
    perm = torch.tensor([2, 0, 3, 1])
    cls_p, clips_p = m(f[:, perm], b[:, perm])  # a set: no fixed positions, only the box embeddings
    assert torch.allclose(cls, cls_p, atol=1e-5) and torch.allclose(clips[:, perm], clips_p, atol=1e-5)
    assert not torch.allclose(m(f, b.flip(-1))[0], cls)


def test_heads_are_three_layer_mlps_without_batch_norm() -> None:
    """Thesis sec. 4.3.1: "a three-layer MLP (without batch normalization) for the contrastive heads"."""
    from torch import nn

    h = SCALEHeads(12, 32, 16)
    for head in (h.mcm_pred, h.mcm_target, h.set_proj):
        kinds = [type(m) for m in head.modules() if not list(m.children())]
        assert kinds.count(nn.Linear) == 3 and not any(issubclass(k, nn.modules.batchnorm._BatchNorm) for k in kinds)
    assert PredictorConfig().head_layers == 3
    assert sum(isinstance(m, nn.Linear) for m in SCALEHeads(12, 32, 16, num_layers=2).set_proj.modules()) == 2


def test_heads_shapes() -> None:
    h = SCALEHeads(12, 32, 16)
    assert h.mcm_pred(torch.randn(2, 3, 32)).shape == (2, 3, 16)
    assert h.mcm_target(torch.randn(2, 3, 12)).shape == (2, 3, 16)
    assert h.set_proj(torch.randn(4, 32)).shape == (4, 16)


def test_bad_architecture_refused() -> None:
    with pytest.raises(ValueError, match="divisible"):
        PredictorConfig(hidden_dim=30, num_heads=8)
