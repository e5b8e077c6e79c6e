"""patchify and the normalised-pixel MAE loss against MAE's reshape formula and a direct loop."""

from __future__ import annotations

import pytest
import torch

from sparse_core.losses import masked_pixel_loss, patchify, pixel_targets

DT = torch.float64


def _mae_patchify(imgs: torch.Tensor, p: int) -> torch.Tensor:
    """MAE's formula: (N, C, h p, w q) -> (N, h w, p q C) via reshape and the einsum 'nchpwq->nhwpqc'."""
    n, c, hh, ww = imgs.shape
    h, w = hh // p, ww // p
    x = imgs.reshape(n, c, h, p, w, p)
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(n, h * w, p * p * c)


def test_patchify_matches_the_mae_formula_and_token_order() -> None:
    x = torch.randn(2, 3, 8, 12, dtype=DT)
    out = patchify(x, 4)
    assert out.shape == (2, 6, 48)
    torch.testing.assert_close(out, _mae_patchify(x, 4))
    # token 4 is row 1, column 1 of the 2 x 3 grid; pixel (r, c, ch) at r * 4 * 3 + c * 3 + ch
    torch.testing.assert_close(out[1, 4, 2 * 12 + 3 * 3 + 1], x[1, 1, 4 + 2, 4 + 3])


def test_pixel_targets_are_normalised_per_patch() -> None:
    x = torch.rand(3, 3, 8, 8, dtype=DT)
    t = pixel_targets(x, 4)
    raw = _mae_patchify(x, 4)
    torch.testing.assert_close(t, (raw - raw.mean(-1, keepdim=True)) / (raw.var(-1, keepdim=True) + 1e-6) ** 0.5)
    torch.testing.assert_close(pixel_targets(x, 4, normalize=False), raw)


@pytest.mark.parametrize("normalize", [True, False])
def test_masked_pixel_loss_is_the_mean_over_masked_patches(normalize: bool) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, 8, generator=g, dtype=DT)
    pred = torch.randn(2, 4, 48, generator=g, dtype=DT)
    mask = torch.tensor([[1, 0, 1, 1], [0, 0, 1, 0]], dtype=torch.bool)
    target = pixel_targets(x, 4, normalize)
    terms = [((pred[b, n] - target[b, n]) ** 2).mean() for b in range(2) for n in range(4) if mask[b, n]]
    expected = torch.stack(terms).mean().float()
    torch.testing.assert_close(masked_pixel_loss(pred, x, mask, 4, normalize), expected)
    # unmasked patches do not contribute to the loss or get a gradient
    pred = pred.clone().requires_grad_(True)
    masked_pixel_loss(pred, x, mask, 4, normalize).backward()
    assert pred.grad is not None and (pred.grad[~mask] == 0).all() and (pred.grad[mask] != 0).any()
