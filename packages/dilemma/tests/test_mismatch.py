"""Mismatch labels and the DILEMMA loss against direct formulas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dilemma_ssl.metrics import auroc, identical_swaps, mismatch_summary
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


def _direct_bce(tokens: torch.Tensor, obj: TokenObjective, labels: torch.Tensor) -> torch.Tensor:
    """(B, K) per-token negative log-likelihood of eq. 3.1, written out: -(y log p + (1 - y) log(1 - p))."""
    z = tokens @ obj.head.weight.t() + obj.head.bias  # (B, K, 1): Y S_i
    p = torch.sigmoid(z.squeeze(-1))
    return -(labels * torch.log(p) + (1 - labels) * torch.log(1 - p))


def test_dilemma_loss_matches_eq_3_1() -> None:
    # eq. 3.1: E_x [ sum_{i in M} BCE_i ]: the sum over each image's kept tokens, then the mean over images
    obj = TokenObjective("dilemma", embed_dim=8, num_tokens=64, theta=0.2, patch_size=4)
    corr = obj.draw(5, 0.45, torch.Generator().manual_seed(0))
    tokens = torch.randn(5, corr.keep_idx.shape[1], 8)
    loss, acc = obj.loss(tokens, corr)
    y = corr.labels
    per_token = _direct_bce(tokens, obj, y)
    direct = sum(per_token[b].sum() for b in range(5)) / 5
    assert torch.allclose(loss, direct, atol=1e-5)
    k = corr.keep_idx.shape[1]
    assert k == 29 and torch.allclose(loss, k * per_token.mean(), atol=1e-5)  # |M| times the token mean
    p = torch.sigmoid((tokens @ obj.head.weight.t() + obj.head.bias).squeeze(-1))
    assert torch.isclose(acc, ((p > 0.5).float() == y).float().mean())


def test_mean_reduction_is_the_token_mean_ablation() -> None:
    obj = TokenObjective("dilemma", embed_dim=8, num_tokens=64, theta=0.2, patch_size=4, reduction="mean")
    corr = obj.draw(5, 0.45, torch.Generator().manual_seed(0))
    tokens = torch.randn(5, corr.keep_idx.shape[1], 8)
    loss, _ = obj.loss(tokens, corr)
    assert torch.allclose(loss, _direct_bce(tokens, obj, corr.labels).mean(), atol=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        TokenObjective("dilemma", embed_dim=8, num_tokens=64, theta=0.2, patch_size=4, reduction="max")


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_position_objectives_match_cross_entropy(reduction: str) -> None:
    obj = TokenObjective("partial_jigsaw", embed_dim=8, num_tokens=16, theta=0.25, patch_size=4,
                         reduction=reduction)
    corr = obj.draw(3, 0.75, torch.Generator().manual_seed(1))
    assert torch.equal(corr.pos_idx, corr.keep_idx)  # jigsaw removes positions, it does not swap them
    tokens = torch.randn(3, corr.keep_idx.shape[1], 8)
    loss, _ = obj.loss(tokens, corr)
    logits = obj.head(tokens)
    sel = corr.labels.bool()
    if reduction == "mean":
        direct = F.cross_entropy(logits[sel], corr.keep_idx[sel])
    else:  # sum over each image's scored tokens (those without a position), mean over images
        direct = sum(F.cross_entropy(logits[b][sel[b]], corr.keep_idx[b][sel[b]], reduction="sum")
                     for b in range(3)) / 3
    assert torch.allclose(loss, direct, atol=1e-5)


def test_flip_patches_mirrors_only_chosen_patches() -> None:
    x = torch.randn(2, 3, 8, 8)
    keep = torch.tensor([[0, 1, 3], [1, 2, 3]])
    flip = torch.tensor([[True, False, False], [False, False, True]])
    y = flip_patches(x, keep, flip, patch_size=4)
    assert torch.equal(y[0, :, :4, :4], x[0, :, :4, :4].flip(-1))  # patch 0 of sample 0
    assert torch.equal(y[1, :, 4:, 4:], x[1, :, 4:, 4:].flip(-1))  # patch 3 of sample 1
    assert torch.equal(y[0, :, :4, 4:], x[0, :, :4, 4:]) and torch.equal(y[1, :, :4, :], x[1, :, :4, :])


def _pairwise_auroc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """AUROC written out: the share of (positive, negative) pairs ordered right, ties one half."""
    pos, neg = scores[labels.bool()], scores[~labels.bool()]
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).double() + 0.5 * (diff == 0).double()).mean())


@pytest.mark.parametrize("ties", [False, True])
def test_auroc_matches_the_pairwise_formula(ties: bool) -> None:
    g = torch.Generator().manual_seed(0)
    labels = (torch.rand(300, generator=g) < 0.2).float()
    scores = torch.randn(300, generator=g) + 0.8 * labels
    if ties:  # quantised scores: many ties within and across the classes
        scores = scores.round()
    assert auroc(scores, labels) == pytest.approx(_pairwise_auroc(scores, labels), abs=1e-12)
    assert auroc(labels, labels) == 1.0 and auroc(-labels, labels) == 0.0
    assert auroc(torch.zeros(10), torch.tensor([0.0, 1.0] * 5)) == 0.5  # constant scores: no signal
    assert math.isnan(auroc(scores, torch.zeros(300)))


def test_auroc_matches_scikit_learn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(1)
    labels = (torch.rand(500, generator=g) < 0.3).float()
    scores = (torch.randn(500, generator=g) + labels).round(decimals=1)
    assert auroc(scores, labels) == pytest.approx(metrics.roc_auc_score(labels.numpy(), scores.numpy()), abs=1e-12)


def test_mismatch_summary_against_direct_formulas() -> None:
    labels = torch.tensor([0, 0, 0, 1, 1, 0, 0, 0, 1, 0], dtype=torch.float)
    logits = torch.tensor([-2.0, -1.0, 0.5, 1.0, -0.5, -3.0, -1.0, -2.0, -4.0, -1.0])
    hidden = torch.tensor([False] * 8 + [True, False])  # the third corrupted token is undetectable
    m = mismatch_summary(logits, labels, hidden)
    p = 0.3
    h = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    bce = float(F.binary_cross_entropy_with_logits(logits, labels))
    assert m["acc"] == pytest.approx(70.0)  # wrong: token 2 (0.5 > 0), token 4 (-0.5), token 8 (-4)
    assert m["prior_acc"] == pytest.approx(70.0)
    assert m["entropy"] == pytest.approx(h) and m["bce"] == pytest.approx(bce)
    assert m["bce_rel"] == pytest.approx(bce / h)
    assert m["undetectable"] == pytest.approx(100.0 / 3)
    assert m["acc_detectable"] == pytest.approx(100.0 * 7 / 9)
    assert m["acc_bound"] == pytest.approx(90.0)
    assert m["auroc"] == pytest.approx(_pairwise_auroc(logits, labels))
    # a head that knows nothing but the prior: BCE equals the entropy, AUROC one half
    prior = torch.full((10,), math.log(p / (1 - p)))
    blind = mismatch_summary(prior, labels, torch.zeros(10, dtype=torch.bool))
    assert blind["bce_rel"] == pytest.approx(1.0) and blind["auroc"] == 0.5


def test_identical_swaps_are_the_background_onto_background_ones() -> None:
    # 2 x 2 patches of 4 px: patch 0 and 3 blank (identical), patches 1 and 2 textured
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, :4, 4:] = torch.arange(16.0).view(4, 4)
    x[0, 0, 4:, :4] = -torch.arange(16.0).view(4, 4)
    keep = torch.tensor([[0, 1]])
    pos = torch.tensor([[3, 2]])  # blank patch 0 placed at blank patch 3; textured 1 at textured 2
    hidden = identical_swaps(x, x, keep, pos, torch.ones(1, 2), patch_size=4)
    assert hidden.tolist() == [[True, False]]
    assert not identical_swaps(x, x, keep, pos, torch.zeros(1, 2), patch_size=4).any()  # only corrupted ones
