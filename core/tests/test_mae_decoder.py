"""MAE decoder: shapes, kept tokens placed by ``keep_idx``, mask token everywhere else."""

from __future__ import annotations

import torch

from sparse_core.models.mae_decoder import MAEDecoder


def _decoder() -> MAEDecoder:
    torch.manual_seed(0)
    return MAEDecoder(embed_dim=8, decoder_dim=16, depth=1, num_heads=2, grid=(2, 3), patch_dim=12).eval()


def test_shapes_and_gradients() -> None:
    dec = _decoder()
    tokens = torch.randn(2, 1 + 4, 8, requires_grad=True)
    keep = torch.tensor([[0, 2, 3, 5], [1, 2, 4, 5]])
    out = dec(tokens, keep)
    assert out.shape == (2, 6, 12)
    out.sum().backward()
    assert tokens.grad is not None and dec.mask_token.grad is not None and dec.mask_token.grad.abs().sum() > 0


def test_prediction_depends_on_where_tokens_are_placed_not_their_order() -> None:
    dec = _decoder()
    tokens = torch.randn(1, 1 + 3, 8)
    keep = torch.tensor([[0, 3, 4]])
    perm = torch.tensor([2, 0, 1])
    shuffled = torch.cat([tokens[:, :1], tokens[:, 1:][:, perm]], dim=1)
    with torch.no_grad():
        ref = dec(tokens, keep)
        torch.testing.assert_close(dec(shuffled, keep[:, perm]), ref)  # same placement, other order
        assert not torch.allclose(dec(tokens, torch.tensor([[1, 3, 4]])), ref)  # other placement


def test_register_tokens_are_skipped() -> None:
    torch.manual_seed(0)
    dec = MAEDecoder(8, 16, 1, 2, (2, 2), 12, num_prefix_tokens=3).eval()
    out = dec(torch.randn(2, 3 + 2, 8), torch.tensor([[0, 1], [2, 3]]))
    assert out.shape == (2, 4, 12)
