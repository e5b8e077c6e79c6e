"""SCALE's per-video clip bookkeeping: the split of 2K clips into two sets and the masked clips of each set.

Pure functions returning indices / boolean masks (house style item 3), drawn from a generator the engine
owns (:meth:`sparse_core.engine.Task.generator`) for the whole step batch and then sliced to a process' rows.
Thesis sec. 4.2.3: "we sample 2 x K clips. We divide the clips into two sets randomly"; a sparse subset
``M^j`` of each set is replaced by the MSK token. The 25 % ratio is the public SCALE code's default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["ClipDraw", "draw_clips", "num_masked", "split_sets"]


def num_masked(set_size: int, mask_ratio: float) -> int:
    """Masked clips per set: ``mask_ratio * K`` rounded half up, at least 1 when ``mask_ratio > 0`` and at most
    ``K - 1`` (one clip of each set stays visible); 0 when ``mask_ratio == 0``.

    Args:
        set_size: K, clips per set.
        mask_ratio: fraction of each set replaced by the MSK token, in ``[0, 1)``.
    """
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
    if mask_ratio == 0.0:
        return 0
    masked = math.floor(mask_ratio * set_size + 0.5)
    return min(max(masked, 1), set_size - 1)


@dataclass(frozen=True)
class ClipDraw:
    """One step's random choices for a batch of videos.

    Attributes:
        sets: clip indices (into the video's 2K stored clips) of each set, shape ``(B, 2, K)`` long.
        mask: True where a clip of a set is replaced by the MSK token, shape ``(B, 2, K)`` bool; every
            row has exactly :func:`num_masked` True entries.
    """

    sets: Tensor
    mask: Tensor

    def __getitem__(self, rows: slice) -> ClipDraw:
        """The draws of rows ``rows`` of the batch (a process' share of the global draw)."""
        return ClipDraw(self.sets[rows], self.mask[rows])


def split_sets(batch: int, num_clips: int, set_size: int, generator: torch.Generator | None = None) -> Tensor:
    """Two disjoint random sets of ``set_size`` clips out of ``num_clips`` per video.

    Args:
        batch: B.
        num_clips: stored clips per video (2K in the thesis, >= 2 * set_size).
        set_size: K.
        generator: random source (CPU).

    Returns:
        Shape ``(B, 2, K)`` long; the 2K entries of a row are distinct.
    """
    if 2 * set_size > num_clips:
        raise ValueError(f"two sets of {set_size} clips need {2 * set_size} stored clips, have {num_clips}")
    perm = torch.rand(batch, num_clips, generator=generator).argsort(dim=1)  # (B, 2K) uniform permutation
    return perm[:, : 2 * set_size].reshape(batch, 2, set_size)


def draw_clips(batch: int, num_clips: int, set_size: int, mask_ratio: float,
               generator: torch.Generator | None = None) -> ClipDraw:
    """The set split and the masked clips of each set for ``batch`` videos.

    Args:
        batch: B (draw for the global step batch, then slice with ``draw[rows]``).
        num_clips: stored clips per video.
        set_size: K.
        mask_ratio: fraction of each set that is masked (:func:`num_masked`).
        generator: random source (CPU).

    Returns:
        the :class:`ClipDraw`.
    """
    sets = split_sets(batch, num_clips, set_size, generator)
    m = num_masked(set_size, mask_ratio)
    ranks = torch.rand(batch, 2, set_size, generator=generator).argsort(dim=-1).argsort(dim=-1)  # (B, 2, K)
    return ClipDraw(sets, ranks < m)
