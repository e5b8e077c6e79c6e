"""Video and image files of predictions next to ground truth (imageio; MP4 through imageio-ffmpeg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["comparison_frames", "save_frame_grid", "save_gif", "save_mp4", "to_uint8"]


def to_uint8(video: Tensor) -> np.ndarray:
    """(T, 3, H, W) in [-1, 1] -> (T, H, W, 3) uint8."""
    x = ((video.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte()
    return x.permute(0, 2, 3, 1).cpu().numpy()


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


def save_gif(frames: np.ndarray, path: str | Path, fps: int = 4) -> Path:
    """Write (T, H, W, 3) uint8 frames as a looping GIF."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    imageio.mimsave(path, list(frames), duration=1000 / fps, loop=0)
    return path


def save_mp4(frames: np.ndarray, path: str | Path, fps: int = 4) -> Path:
    """Write (T, H, W, 3) uint8 frames as an H.264 MP4 (sides padded to multiples of 16 by ffmpeg's rules)."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames.shape[1:3]
    ph, pw = (-h) % 16, (-w) % 16
    if ph or pw:
        frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)))
    with imageio.get_writer(path, fps=fps, codec="libx264", quality=8, macro_block_size=16) as writer:
        for f in frames:
            writer.append_data(f)
    return path


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
