"""Which student tokens are dropped and which kept tokens are replaced by the MSK token (sec. 6.2.1).

Pure functions of a seeded ``torch.Generator``. The student sees, per large clip, the ``K`` kept tokens
(``keep_idx``, sorted) of the ``N`` patch tokens; for a ``mask_sample_fraction`` of the clips a random
``[lo, hi]`` fraction of those kept tokens is replaced by MSK. Masked tokens are therefore always a subset of
the kept ones, and the iBOT loss is taken only there, against the teacher's dense output at the same position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sparse_core import masking

__all__ = ["DROP_PATTERNS", "StudentTokens", "keep_indices", "sample_student_tokens"]

DROP_PATTERNS = ("random", "tube", "block")


def keep_indices(batch: int, grid: tuple[int, int, int], drop_ratio: float, pattern: str = "random",
                 generator: torch.Generator | None = None) -> Tensor:
    """Sorted indices of the kept tokens, the same count ``K`` for every clip (Table 6.1c patterns).

    Args:
        batch: number of clips ``B``.
        grid: token grid ``(T', Hp, Wp)``; tokens are flattened time-major, ``N = T' * Hp * Wp``.
        drop_ratio: fraction of tokens dropped, in ``[0, 1)`` (thesis default 0.85).
        pattern: ``"random"`` tokens (default), ``"tube"`` (the same spatial positions dropped in every frame,
            VideoMAE) or ``"block"`` (spatial blocks repeated over time, V-JEPA-style multi-block).
        generator: seeded generator (None: global RNG).

    Shape:
        returns ``(B, K)`` long, sorted ascending per row.
    """
    if not 0.0 <= drop_ratio < 1.0:
        raise ValueError(f"drop_ratio must be in [0, 1), got {drop_ratio}")
    t, h, w = grid
    if pattern == "random":
        return masking.random_keep_indices(batch, t * h * w, 1.0 - drop_ratio, generator)
    if pattern == "tube":
        return masking.keep_indices_from_mask(masking.tube_mask(batch, t, h, w, drop_ratio, generator))
    if pattern == "block":
        return masking.keep_indices_from_mask(masking.block_mask(batch, h, w, drop_ratio, generator, grid_t=t))
    raise ValueError(f"drop pattern must be one of {DROP_PATTERNS}, got {pattern!r}")


@dataclass
class StudentTokens:
    """Token bookkeeping of the student's large clips.

    Attributes:
        keep_idx: ``(B, K)`` long, sorted indices of the tokens the student sees.
        mask_kept: ``(B, K)`` bool, True where a kept token is replaced by MSK.
        num_tokens: ``N``, the dense token count (what the teacher sees).
    """

    keep_idx: Tensor
    mask_kept: Tensor
    num_tokens: int

    @property
    def mask(self) -> Tensor:
        """``(B, N)`` bool: True at masked positions (a subset of the kept ones)."""
        m = self.keep_idx.new_zeros(self.keep_idx.shape[0], self.num_tokens, dtype=torch.bool)
        return m.scatter(1, self.keep_idx, self.mask_kept)

    @property
    def kept(self) -> Tensor:
        """``(B, N)`` bool: True at kept positions."""
        return masking.indices_to_mask(self.keep_idx, self.num_tokens)

    def masked_positions(self) -> Tensor:
        """``(M, 2)`` long ``(clip, position in N)`` of every masked token, ordered by clip then position."""
        b, k = self.mask_kept.nonzero(as_tuple=True)
        return torch.stack([b, self.keep_idx[b, k]], dim=1)

    def to(self, device: torch.device | str) -> StudentTokens:
        """Move to ``device``."""
        return StudentTokens(self.keep_idx.to(device), self.mask_kept.to(device), self.num_tokens)


def sample_student_tokens(batch: int, grid: tuple[int, int, int], drop_ratio: float = 0.85,
                          pattern: str = "random", mask_ratio: tuple[float, float] = (0.1, 0.4),
                          mask_sample_fraction: float = 0.5, generator: torch.Generator | None = None
                          ) -> StudentTokens:
    """Draw dropped and masked tokens for ``batch`` student clips.

    Args:
        batch: number of large clips ``B``.
        grid: token grid ``(T', Hp, Wp)``.
        drop_ratio: fraction of tokens dropped (thesis 0.85; Table 6.1d also 0.8, 0.9, 0.95; 0 = dense).
        pattern: drop pattern, see :func:`keep_indices`.
        mask_ratio: ``(lo, hi)``: each masked clip replaces a ``U(lo, hi)`` fraction of its kept tokens by
            MSK (thesis 0.1-0.4, Table 6.1f). ``(0, 0)`` disables masking.
        mask_sample_fraction: fraction of clips that are masked (iBOT / DINOv2: half of the batch); exactly
            ``round(B * fraction)`` clips, chosen at random.
        generator: seeded generator.

    Returns:
        :class:`StudentTokens` with ``keep_idx (B, K)`` and ``mask_kept (B, K)``.
    """
    lo, hi = mask_ratio
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(f"mask_ratio must satisfy 0 <= lo <= hi <= 1, got {mask_ratio}")
    keep = keep_indices(batch, grid, drop_ratio, pattern, generator)
    k = keep.shape[1]
    mask_kept = torch.zeros(batch, k, dtype=torch.bool)
    n_masked_clips = int(round(batch * mask_sample_fraction)) if hi > 0 else 0
    if n_masked_clips > 0:
        clips = torch.randperm(batch, generator=generator)[:n_masked_clips]
        mask_kept[clips] = masking.random_token_mask(n_masked_clips, k, (lo, hi), generator)
    return StudentTokens(keep, mask_kept, grid[0] * grid[1] * grid[2])
