"""Scores of the mismatch head that a reader can trust: AUROC, BCE against the prior's entropy, and the swaps
no model could detect.

Accuracy at threshold 0 cannot tell a head that learned nothing from one with a weak but real signal: both
answer "correct position" for every token when only theta of them are wrong. AUROC (0.5: no signal) and the
BCE relative to the entropy of the labels' prior (1: no information, 0: perfect) can.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import Tensor

__all__ = ["auroc", "binary_entropy", "identical_swaps", "mismatch_summary"]


def auroc(scores: Tensor, labels: Tensor) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random negative (ties
    count one half), from the ranks (Mann-Whitney U).

    Args:
        scores: (N,) real scores (higher: more likely positive).
        labels: (N,) 0/1 labels.

    Returns:
        AUROC in [0, 1]; NaN when one class is absent.
    """
    s = scores.detach().double().flatten()
    y = labels.detach().flatten().bool()
    n_pos, n = int(y.sum()), y.numel()
    n_neg = n - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    sorted_s, order = s.sort()
    _, counts = torch.unique_consecutive(sorted_s, return_counts=True)
    ends = counts.cumsum(0).double()  # 1-based rank of the last member of each tie group
    avg = (ends - (counts.double() - 1) / 2).repeat_interleave(counts)  # mean rank of each group
    ranks = torch.empty_like(s)
    ranks[order] = avg
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def binary_entropy(p: float) -> float:
    """Entropy ``H(p) = -p log p - (1 - p) log(1 - p)`` of a Bernoulli(p) label, in nats (0 at p in {0, 1})."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def identical_swaps(seen: Tensor, original: Tensor, keep_idx: Tensor, pos_idx: Tensor, labels: Tensor,
                    patch_size: int, atol: float = 0.0) -> Tensor:
    """Corrupted tokens that no model could detect: the token shown is pixel-identical to the correct token.

    Token ``k`` shows the patch ``keep_idx[k]`` of ``seen`` (the student's input image) with the position
    ``pos_idx[k]``; the correct token at that position is the patch ``pos_idx[k]`` of ``original``. When the
    two patches are equal (background onto background, a mirror-symmetric flipped patch) the input is that of
    a correctly placed token, so the corruption carries no signal.

    Args:
        seen: (B, C, H, W) the image the student's tokens were cut from (after pixel corruption, if any).
        original: (B, C, H, W) the uncorrupted image.
        keep_idx: (B, K) content patch of each kept token.
        pos_idx: (B, K) position given to each kept token.
        labels: (B, K) 1 where the token is corrupted.
        patch_size: patch side p.
        atol: largest absolute pixel difference still counted as identical.

    Returns:
        (B, K) bool, True for corrupted tokens identical to the correct token at their position.
    """
    def patches(x: Tensor) -> Tensor:  # (B, N, C p p)
        return rearrange(x, "b c (h p) (w q) -> b (h w) (c p q)", p=patch_size, q=patch_size)

    def gather(p: Tensor, idx: Tensor) -> Tensor:
        return p.gather(1, idx[..., None].expand(-1, -1, p.shape[-1]))

    shown = gather(patches(seen), keep_idx.to(seen.device))
    correct = gather(patches(original), pos_idx.to(seen.device))
    same = (shown - correct).abs().amax(-1) <= atol
    return same & labels.to(seen.device).bool()


def mismatch_summary(logits: Tensor, labels: Tensor, undetectable: Tensor) -> dict[str, float]:
    """The mismatch metrics of a set of scored tokens.

    Args:
        logits: (T,) head logits of the tokens.
        labels: (T,) 0/1, 1 where corrupted.
        undetectable: (T,) bool, corrupted tokens identical to a correct one (:func:`identical_swaps`).

    Returns:
        ``acc`` (%, threshold 0), ``prior_acc`` (% of answering "correct" for every token), ``auroc``,
        ``bce`` (mean per-token binary cross-entropy, nats), ``entropy`` (``H`` of the label rate, nats),
        ``bce_rel`` (``bce / entropy``: 1 = no information), ``undetectable`` (% of the corrupted tokens that no
        model could detect), ``acc_detectable`` (% accuracy on all tokens except those), ``acc_bound`` (% the
        best model could reach: every token but the undetectable ones right).
    """
    logits, labels, undetectable = logits.double().flatten(), labels.double().flatten(), undetectable.flatten()
    n = max(labels.numel(), 1)
    rate = float(labels.mean()) if labels.numel() else float("nan")
    right = (logits > 0).double() == labels
    bce = float(torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)) if labels.numel() else \
        float("nan")
    h = binary_entropy(rate)
    n_bad = float(labels.sum())
    keep = ~undetectable
    return {
        "acc": 100.0 * float(right.double().mean()),
        "prior_acc": 100.0 * (1.0 - rate),
        "auroc": auroc(logits, labels),
        "bce": bce,
        "entropy": h,
        "bce_rel": bce / h if h > 0 else float("nan"),
        "undetectable": 100.0 * float(undetectable.sum()) / n_bad if n_bad else float("nan"),
        "acc_detectable": 100.0 * float(right[keep].double().mean()) if bool(keep.any()) else float("nan"),
        "acc_bound": 100.0 * (1.0 - float(undetectable.sum()) / n),
    }
