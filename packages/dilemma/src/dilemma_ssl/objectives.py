"""Token objectives of the student: DILEMMA mismatch detection (eq. 3.1) and the Table 3.11 ablations.

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
    """

    def __init__(self, kind: str, embed_dim: int, num_tokens: int, theta: float, patch_size: int) -> None:
        super().__init__()
        self.kind = kind
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

    def loss(self, tokens: Tensor, corr: CorruptedTokens) -> tuple[Tensor, Tensor]:
        """Token loss and accuracy.

        Args:
            tokens: (B, K, D) student output patch tokens (prefix tokens removed).
            corr: the corruption the student saw (on the tokens' device).

        Returns:
            (loss, accuracy): scalars. The loss is a distributed-exact mean over tokens; accuracy is the
            local fraction of correctly classified tokens (detection) or positions (classification).
        """
        if self.head is None:
            zero = tokens.sum() * 0.0
            return zero, zero.detach()
        logits = self.head(tokens)  # (B, K, out)
        if self.kind in ("dilemma", "flip_detection"):
            logits = logits.squeeze(-1).float()  # (B, K)
            per_token = F.binary_cross_entropy_with_logits(logits, corr.labels, reduction="none")
            acc = ((logits > 0).float() == corr.labels).float().mean()
            return global_mean(per_token), acc.detach()
        target = corr.keep_idx  # true position of each kept token, (B, K)
        per_token = F.cross_entropy(logits.flatten(0, 1).float(), target.flatten(), reduction="none")
        hit = (logits.argmax(-1) == target).float().flatten()
        if self.kind == "partial_jigsaw":
            weight = corr.labels.flatten()
            count = weight.sum()
            return global_mean(per_token * weight, count), (hit * weight).sum().div(
                count.clamp_min(1)
            ).detach()
        return global_mean(per_token), hit.mean().detach()
