"""Token corruption of the student's input: sparsify, then mismatch positions (thesis eq. 3.1).

Pure functions returning indices and labels, built on :mod:`sparse_core.masking`. The student sees the tokens
``keep_idx`` (the set M, order preserved) and token ``keep_idx[b, k]`` receives the position embedding
``pos_idx[b, k]``; ``labels[b, k] = 1`` marks the set B of tokens whose position is wrong. A wrong position is
the position of a dropped token (``j in U \\ M``), so the student cannot detect it by noticing duplicates.

The same helpers draw the tokens of the Table 3.11 ablations: which kept tokens lose their position (partial
jigsaw) or get a horizontally flipped patch (flip detection).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from einops import rearrange
from torch import Tensor

from sparse_core import masking

__all__ = [
    "CorruptedTokens",
    "num_corrupted",
    "choose_corrupted",
    "sparsify_and_mismatch",
    "flip_patches",
    "sparsify",
]


@dataclass
class CorruptedTokens:
    """The student's view of one batch of token grids.

    Attributes:
        keep_idx: (B, K) long, patch indices of the kept tokens (sorted); their content is at these positions.
        pos_idx: (B, K) long, position-embedding index given to each kept token.
        labels: (B, K) float, 1 where the token is corrupted (wrong position / flipped / no position).
    """

    keep_idx: Tensor
    pos_idx: Tensor
    labels: Tensor

    def slice(self, start: int, stop: int) -> CorruptedTokens:
        """Rows ``start:stop`` (this process' part of a batch drawn for the global batch)."""
        return CorruptedTokens(self.keep_idx[start:stop], self.pos_idx[start:stop], self.labels[start:stop])

    def to(self, device: torch.device | str) -> CorruptedTokens:
        """Move every tensor to ``device``."""
        return CorruptedTokens(self.keep_idx.to(device), self.pos_idx.to(device), self.labels.to(device))


def num_corrupted(num_kept: int, theta: float) -> int:
    """``|B| = floor(theta * |M| + 0.5)`` tokens corrupted per sample (sparse-core's rounding)."""
    return int(math.floor(theta * num_kept + 0.5))


def sparsify(
    batch_size: int, num_tokens: int, keep_ratio: float, generator: torch.Generator | None = None
) -> Tensor:
    """Uniformly random kept tokens per sample.

    Shape:
        returns (B, K) long, sorted, ``K = round(keep_ratio * N)``; ``arange(N)`` rows when keep_ratio >= 1.
    """
    if keep_ratio >= 1.0:
        return torch.arange(num_tokens).expand(batch_size, num_tokens).clone()
    return masking.random_keep_indices(batch_size, num_tokens, keep_ratio, generator=generator)


def choose_corrupted(
    batch_size: int, num_kept: int, theta: float, generator: torch.Generator | None = None
) -> Tensor:
    """Choose which kept tokens of every sample to corrupt: ``floor(theta * K + 0.5)`` of the K, uniformly.

    Shape:
        returns (B, K) bool.
    """
    m = num_corrupted(num_kept, theta)
    order = torch.rand(batch_size, num_kept, generator=generator).argsort(dim=1)
    return order < m


def _shuffle_within(keep_idx: Tensor, chosen: Tensor) -> Tensor:
    """Dense case (no dropped token): cyclically shift the positions of the chosen tokens among themselves.

    Every chosen token then carries another chosen token's position (all wrong when at least two are chosen).
    """
    pos = keep_idx.clone()
    for b in range(keep_idx.shape[0]):
        idx = chosen[b].nonzero().squeeze(1)
        if idx.numel() >= 2:
            pos[b, idx] = keep_idx[b, idx.roll(1)]
    return pos


def sparsify_and_mismatch(
    batch_size: int,
    num_tokens: int,
    keep_ratio: float,
    theta: float,
    generator: torch.Generator | None = None,
) -> CorruptedTokens:
    """Draw the set M (kept tokens) and the set B (tokens with a wrong position embedding) per sample.

    With dropped tokens, a wrong position is that of a dropped token (``masking.mismatch_positions``).
    Without any (dense input, the '+MD' ablation of Table 3.10), the chosen tokens swap positions cyclically.

    Args:
        batch_size: number of samples B.
        num_tokens: patch tokens per image N.
        keep_ratio: ``1 - sparsity``.
        theta: probability of a position-embedding mismatch ``|B| / |M|``.
        generator: CPU generator (seed it from ``(seed, step)`` for exact resume).
    """
    keep_idx = sparsify(batch_size, num_tokens, keep_ratio, generator)
    k = keep_idx.shape[1]
    if theta <= 0.0:
        return CorruptedTokens(keep_idx, keep_idx.clone(), torch.zeros(batch_size, k))
    if k >= num_tokens:
        chosen = choose_corrupted(batch_size, k, theta, generator)
        pos_idx = _shuffle_within(keep_idx, chosen)
        return CorruptedTokens(keep_idx, pos_idx, (pos_idx != keep_idx).float())
    pos_idx, labels = masking.mismatch_positions(keep_idx, num_tokens, theta, generator=generator)
    return CorruptedTokens(keep_idx, pos_idx, labels.float())


def flip_patches(images: Tensor, keep_idx: Tensor, flip: Tensor, patch_size: int) -> Tensor:
    """Horizontally flip the pixels of the selected kept patches (flip-detection ablation, Table 3.11).

    Args:
        images: (B, C, H, W) input images.
        keep_idx: (B, K) kept patch indices.
        flip: (B, K) bool, which kept patches to flip.
        patch_size: patch size p.

    Returns:
        (B, C, H, W) images with the chosen patches mirrored left-right (others unchanged).
    """
    h = images.shape[-2] // patch_size
    patches = rearrange(images, "b c (h p) (w q) -> b (h w) c p q", p=patch_size, q=patch_size)
    full = torch.zeros(patches.shape[:2], dtype=torch.bool, device=images.device)  # (B, N)
    full.scatter_(1, keep_idx.to(images.device), flip.to(images.device))
    patches = torch.where(full[:, :, None, None, None], patches.flip(-1), patches)
    return rearrange(patches, "b (h w) c p q -> b c (h p) (w q)", h=h)
