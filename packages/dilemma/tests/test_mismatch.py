"""Mismatch labels and the DILEMMA loss against direct formulas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dilemma_ssl.mismatch import flip_patches, num_corrupted, sparsify_and_mismatch
from dilemma_ssl.objectives import TokenObjective


@pytest.mark.parametrize("keep_ratio", [0.35, 0.6, 1.0])
def test_mismatch_labels_match_positions(keep_ratio: float) -> None:
    n, theta, b = 196, 0.2, 16
    corr = sparsify_and_mismatch(b, n, keep_ratio, theta, torch.Generator().manual_seed(3))
    k = corr.keep_idx.shape[1]
    assert k == math.floor(keep_ratio * n + 0.5)
    # label 1 exactly where the position embedding differs from the token's own position
    assert torch.equal(corr.labels.bool(), corr.pos_idx != corr.keep_idx)
    assert (corr.labels.sum(1) == num_corrupted(k, theta)).all()
    for row in range(b):
        kept = set(corr.keep_idx[row].tolist())
        wrong = corr.pos_idx[row][corr.labels[row].bool()].tolist()
        if keep_ratio < 1.0:  # wrong positions are positions of dropped tokens (U \ M), all distinct
            assert not kept & set(wrong)
            assert len(set(wrong)) == len(wrong)
        else:  # dense: the chosen tokens swap positions among themselves
            assert set(wrong) <= kept
        assert sorted(corr.keep_idx[row].tolist()) == corr.keep_idx[row].tolist()


def test_mismatch_is_deterministic_in_the_generator() -> None:
    a = sparsify_and_mismatch(4, 64, 0.5, 0.2, torch.Generator().manual_seed(7))
    b = sparsify_and_mismatch(4, 64, 0.5, 0.2, torch.Generator().manual_seed(7))
    assert torch.equal(a.keep_idx, b.keep_idx) and torch.equal(a.pos_idx, b.pos_idx)


def test_dilemma_loss_matches_eq_3_1() -> None:
    obj = TokenObjective("dilemma", embed_dim=8, num_tokens=64, theta=0.2, patch_size=4)
    corr = obj.draw(5, 0.45, torch.Generator().manual_seed(0))
    tokens = torch.randn(5, corr.keep_idx.shape[1], 8)
    loss, acc = obj.loss(tokens, corr)
    z = tokens @ obj.head.weight.t() + obj.head.bias  # (B, K, 1): Y S_i
    p = torch.sigmoid(z.squeeze(-1))
    y = corr.labels
    direct = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
    assert torch.allclose(loss, direct, atol=1e-6)
    assert torch.isclose(acc, ((p > 0.5).float() == y).float().mean())


def test_position_objectives_match_cross_entropy() -> None:
    obj = TokenObjective("partial_jigsaw", embed_dim=8, num_tokens=16, theta=0.25, patch_size=4)
    corr = obj.draw(3, 0.75, torch.Generator().manual_seed(1))
    assert torch.equal(corr.pos_idx, corr.keep_idx)  # jigsaw removes positions, it does not swap them
    tokens = torch.randn(3, corr.keep_idx.shape[1], 8)
    loss, _ = obj.loss(tokens, corr)
    logits = obj.head(tokens)
    sel = corr.labels.bool()
    assert torch.allclose(loss, F.cross_entropy(logits[sel], corr.keep_idx[sel]), atol=1e-6)


def test_flip_patches_mirrors_only_chosen_patches() -> None:
    x = torch.randn(2, 3, 8, 8)
    keep = torch.tensor([[0, 1, 3], [1, 2, 3]])
    flip = torch.tensor([[True, False, False], [False, False, True]])
    y = flip_patches(x, keep, flip, patch_size=4)
    assert torch.equal(y[0, :, :4, :4], x[0, :, :4, :4].flip(-1))  # patch 0 of sample 0
    assert torch.equal(y[1, :, 4:, 4:], x[1, :, 4:, 4:].flip(-1))  # patch 3 of sample 1
    assert torch.equal(y[0, :, :4, 4:], x[0, :, :4, 4:]) and torch.equal(y[1, :, :4, :], x[1, :, :4, :])
