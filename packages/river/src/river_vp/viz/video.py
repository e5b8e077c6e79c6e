"""Frames of predictions next to ground truth, and PNG frame grids.

Clips are written with sparse-core's :func:`~sparse_core.data.video.write_video` (MP4 / GIF).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from sparse_core.data.video import float_to_frames

__all__ = ["comparison_frames", "save_frame_grid", "to_uint8"]


def to_uint8(video: Tensor) -> np.ndarray:
    """(T, 3, H, W) in [-1, 1] -> (T, H, W, 3) uint8 (sparse-core's canonical clip layout)."""
    return float_to_frames(video, "signed").numpy()


def comparison_frames(rows: Sequence[Tensor], num_context: int, scale: int = 1, pad: int = 2) -> np.ndarray:
    """Stack videos side by side (e.g. ground truth | prediction |
    baseline) with a border marking predictions.

    Args:
        rows: videos (T, 3, H, W) in [-1, 1], same T; placed left to right.
        num_context: frames given to the model; later frames get a red border, given ones a green one.
        scale: nearest-neighbour upscaling of every frame.
        pad: border width in pixels.

    Returns:
        (T, H', W', 3) uint8.
    """
    t = rows[0].shape[0]
    frames = []
    for i in range(t):
        tiles = []
        for video in rows:
            f = video[i : i + 1]
            if scale > 1:
                f = F.interpolate(f, scale_factor=scale, mode="nearest")
            color = torch.tensor([-1.0, 1.0, -1.0] if i < num_context else [1.0, -1.0, -1.0]).view(1, 3, 1, 1)
            f = F.pad(f, (pad, pad, pad, pad), value=0.0)
            f[..., :pad, :] = color
            f[..., -pad:, :] = color
            f[..., :, :pad] = color
            f[..., :, -pad:] = color
            tiles.append(f)
        frames.append(torch.cat(tiles, dim=-1))
    return to_uint8(torch.cat(frames))


def save_frame_grid(rows: Sequence[Tensor], path: str | Path, scale: int = 2) -> Path:
    """PNG grid: one row per video (T, 3, H, W) in [-1, 1], frames left to right."""
    from PIL import Image

    grid = []
    for video in rows:
        v = F.interpolate(video.float(), scale_factor=scale, mode="nearest") if scale > 1 else video
        v = F.pad(v, (1, 1, 1, 1), value=1.0)
        grid.append(torch.cat(list(v), dim=-1))
    img = to_uint8(torch.cat(grid, dim=-2)[None])[0]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return path
