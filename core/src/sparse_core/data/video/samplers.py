"""Clip samplers: map a video's frame count to the frame indices to decode.

Random samplers draw from the global torch RNG (the engine seeds it per sample, so resume is exact).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

__all__ = [
    "AllFrames",
    "FrameSampler",
    "RandomClipSampler",
    "RandomFrameSampler",
    "SparseRandomSampler",
    "UniformSampler",
    "make_sampler",
]


class FrameSampler(Protocol):
    """Maps a video's frame count to the frame indices to read."""

    num_frames: int

    def __call__(self, total: int) -> list[int]:
        """Return ``num_frames`` indices in ``[0, total)``."""
        ...


class UniformSampler:
    """Deterministic: ``num_frames`` frames evenly spread over the whole video (segment centres).

    Args:
        num_frames: Frames per clip ``T``.
    """

    def __init__(self, num_frames: int) -> None:
        self.num_frames = num_frames

    def __call__(self, total: int) -> list[int]:
        """Indices ``floor((i + 0.5) * total / T)`` for ``i < T``."""
        return [min(total - 1, int((i + 0.5) * total / self.num_frames)) for i in range(self.num_frames)]


class RandomClipSampler:
    """Random contiguous clip ``start + stride * i`` (VideoMAE-style dense sampling).

    The start is uniform over the positions where the clip fits; a video shorter than the clip's
    span ``(T - 1) * stride + 1`` starts at 0 and repeats its last frame.

    Args:
        num_frames: Frames per clip ``T``.
        stride: Step between sampled frames.
    """

    def __init__(self, num_frames: int, stride: int = 1) -> None:
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.num_frames = num_frames
        self.stride = stride

    def __call__(self, total: int) -> list[int]:
        """Indices of one random clip (global torch RNG)."""
        span = (self.num_frames - 1) * self.stride + 1
        start = int(torch.randint(0, total - span + 1, ()).item()) if total >= span else 0
        return [min(total - 1, start + self.stride * i) for i in range(self.num_frames)]


class SparseRandomSampler:
    """TSN-style sparse sampling: split the video into ``T`` equal segments, one random frame each.

    Args:
        num_frames: Frames per clip ``T``.
    """

    def __init__(self, num_frames: int) -> None:
        self.num_frames = num_frames

    def __call__(self, total: int) -> list[int]:
        """Sorted indices, one uniformly drawn per segment (global torch RNG)."""
        edges = np.linspace(0, total, self.num_frames + 1)
        u = torch.rand(self.num_frames).numpy()
        idx = np.floor(edges[:-1] + u * (edges[1:] - edges[:-1])).astype(int)
        return [int(min(max(i, 0), total - 1)) for i in idx]


def make_sampler(name: str, num_frames: int, stride: int = 1) -> FrameSampler:
    """Build a sampler by name: ``"uniform"``, ``"random"`` (contiguous with ``stride``) or ``"sparse"``."""
    if name == "uniform":
        return UniformSampler(num_frames)
    if name == "random":
        return RandomClipSampler(num_frames, stride)
    if name == "sparse":
        return SparseRandomSampler(num_frames)
    raise ValueError(f"unknown sampler {name!r}; choose 'uniform', 'random' or 'sparse'")


class AllFrames:
    """Every frame of the video, in order."""

    num_frames = -1

    def __call__(self, total: int) -> list[int]:
        """Indices ``0 .. total - 1``."""
        return list(range(total))


class RandomFrameSampler:
    """One uniformly drawn frame (global torch RNG), e.g. for training an image autoencoder on videos."""

    num_frames = 1

    def __call__(self, total: int) -> list[int]:
        """One index in ``[0, total)``."""
        return [int(torch.randint(0, total, (1,)).item())]
