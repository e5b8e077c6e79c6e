"""Token objectives of the student: DILEMMA mismatch detection (eq. 3.1) and the Table 3.11 ablations.

The loss of every objective is reduced as eq. 3.1 writes it (``reduction="sum"``): the per-token loss summed
over the scored tokens of each image (all kept tokens M; partial jigsaw: the tokens without a position), then the
mean over images (``E_x``). ``reduction="mean"`` (ablation, ``method.token_reduction: mean``) is the mean over
all scored tokens of the batch instead.

===================  ========================================  ============================================
objective            corruption of the kept tokens             head and loss
===================  ========================================  ============================================
dilemma              theta of them get a dropped token's       linear D -> 1, binary cross-entropy (eq 3.1)
                     position embedding
position_correction  same as dilemma                           linear D -> N, cross-entropy, true position
partial_jigsaw       theta of them get no position embedding   linear D -> N, cross-entropy on those tokens
flip_detection       theta of their patches mirrored           linear D -> 1, binary cross-entropy
none                 nothing (sparsity only)                   none
===================  ========================================  ============================================
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dilemma_ssl.mismatch import (
    CorruptedTokens,
    choose_corrupted,
    flip_patches,
    sparsify,
    sparsify_and_mismatch,
)
from sparse_core import masking
from sparse_core.distributed import global_mean

__all__ = ["TokenObjective"]


class TokenObjective(nn.Module):
    """Draws the student's corrupted token set and scores the student's output tokens on it.

    Args:
        kind: one of ``dilemma``, ``position_correction``, ``partial_jigsaw``, ``flip_detection``, ``none``.
        embed_dim: token width D.
        num_tokens: patch tokens per image N.
        theta: fraction of kept tokens corrupted.
        patch_size: patch size (flip detection mirrors pixels).
        reduction: ``"sum"`` (eq. 3.1: sum over each image's scored tokens, mean over images) or ``"mean"``
            (mean over all scored tokens; the ablation ``method.token_reduction: mean``).
    """

    def __init__(
        self, kind: str, embed_dim: int, num_tokens: int, theta: float, patch_size: int, reduction: str = "sum"
    ) -> None:
        super().__init__()
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
        self.kind = kind
        self.reduction = reduction
        self.num_tokens = num_tokens
        self.theta = theta
        self.patch_size = patch_size
        out = {
            "dilemma": 1,
            "flip_detection": 1,
            "position_correction": num_tokens,
            "partial_jigsaw": num_tokens,
        }
        self.head = nn.Linear(embed_dim, out[kind]) if kind in out else None

    @property
    def active(self) -> bool:
        """Whether there is a token loss at all."""
        return self.head is not None

    def draw(
        self,
        batch_size: int,
        keep_ratio: float,
        generator: torch.Generator | None = None,
        keep_idx: Tensor | None = None,
        corrupt: bool = True,
    ) -> CorruptedTokens:
        """Draw kept tokens (unless given) and their corruption for ``batch_size`` samples (CPU tensors).

        Args:
            batch_size: samples B.
            keep_ratio: fraction of tokens kept (ignored when ``keep_idx`` is given).
            generator: seeded CPU generator.
            keep_idx: (B, K) precomputed kept tokens (e.g. by teacher attention).
            corrupt: False leaves every kept token intact (dense steps, or objective off).
        """
        n = self.num_tokens
        theta = self.theta if (corrupt and self.active) else 0.0
        if keep_idx is None:
            if self.kind in ("dilemma", "position_correction"):
                return sparsify_and_mismatch(batch_size, n, keep_ratio, theta, generator)
            keep_idx = sparsify(batch_size, n, keep_ratio, generator)
        keep_idx = keep_idx.cpu()
        k = keep_idx.shape[1]
        if theta <= 0.0:
            return CorruptedTokens(keep_idx, keep_idx.clone(), torch.zeros(batch_size, k))
        if self.kind in ("dilemma", "position_correction"):
            if k >= n:
                return sparsify_and_mismatch(batch_size, n, 1.0, theta, generator)
            pos_idx, labels = masking.mismatch_positions(keep_idx, n, theta, generator=generator)
            return CorruptedTokens(keep_idx, pos_idx, labels.float())
        chosen = choose_corrupted(batch_size, k, theta, generator)
        return CorruptedTokens(keep_idx, keep_idx.clone(), chosen.float())

    def prepare_input(self, images: Tensor, corr: CorruptedTokens) -> Tensor:
        """Apply pixel-level corruption (flip detection); identity for the other objectives. (B, C, H, W)."""
        if self.kind == "flip_detection" and corr.labels.any():
            return flip_patches(images, corr.keep_idx, corr.labels.bool(), self.patch_size)
        return images

    def no_pos(self, corr: CorruptedTokens) -> Tensor | None:
        """(B, K) bool tokens that get no position embedding (partial jigsaw), else None."""
        if self.kind == "partial_jigsaw" and corr.labels.any():
            return corr.labels.bool()
        return None

    def _reduce(self, per_token: Tensor, weight: Tensor | None = None) -> Tensor:
        """Distributed-exact reduction of (B, K) per-token losses (``weight``: (B, K) 0/1 tokens scored).

        ``sum``: ``mean_b sum_i w_bi l_bi`` over the global batch (eq. 3.1); ``mean``: ``sum w l / sum w``.
        """
        if weight is not None:
            per_token = per_token * weight
        if self.reduction == "sum":
            return global_mean(per_token.sum(1))  # per image: sum over M; then the mean over images
        return global_mean(per_token, None if weight is None else weight.sum())

    def loss(self, tokens: Tensor, corr: CorruptedTokens) -> tuple[Tensor, Tensor]:
        """Token loss and accuracy.

        For ``dilemma`` this is eq. 3.1 with the sign that makes it a loss:
        ``E_x[-sum_{i in M} y_i log sigma(Y S_i) + (1 - y_i) log(1 - sigma(Y S_i))]`` with ``Y`` the linear
        head (the thesis writes the log-likelihood, which is maximised).

        Args:
            tokens: (B, K, D) student output patch tokens (prefix tokens removed).
            corr: the corruption the student saw (on the tokens' device).

        Returns:
            (loss, accuracy): scalars. The loss is reduced by :meth:`_reduce` (distributed-exact: its gradient
            under DDP averaging is that of one process holding the global batch); accuracy is the local fraction
            of correctly classified tokens (detection) or positions (classification).
        """
        if self.head is None:
            zero = tokens.sum() * 0.0
            return zero, zero.detach()
        logits = self.head(tokens)  # (B, K, out)
        if self.kind in ("dilemma", "flip_detection"):
            logits = logits.squeeze(-1).float()  # (B, K)
            per_token = F.binary_cross_entropy_with_logits(logits, corr.labels, reduction="none")
            acc = ((logits > 0).float() == corr.labels).float().mean()
            return self._reduce(per_token), acc.detach()
        target = corr.keep_idx  # true position of each kept token, (B, K)
        b, k = target.shape
        per_token = F.cross_entropy(logits.flatten(0, 1).float(), target.flatten(), reduction="none").view(b, k)
        hit = (logits.argmax(-1) == target).float()  # (B, K)
        if self.kind == "partial_jigsaw":
            weight = corr.labels.float()
            acc = (hit * weight).sum().div(weight.sum().clamp_min(1))
            return self._reduce(per_token, weight), acc.detach()
        return self._reduce(per_token), hit.mean().detach()
