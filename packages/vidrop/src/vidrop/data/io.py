"""Reading a window of a video as uint8 frames (sparse-core's decord reader with PyAV fallback)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sparse_core.data.video import RandomClipSampler, VideoNeeds
from sparse_core.data.video import read_video as _core_read_video

__all__ = ["read_video"]


def read_video(path: str | Path, max_frames: int | None = None, needs: VideoNeeds | None = None) -> np.ndarray:
    """Decode every frame, or a random contiguous window of ``max_frames`` frames (torch global RNG).

    ``needs``: the least frames (of the whole video) and pixels a usable video holds; short of them
    :class:`~sparse_core.data.video.VideoTooShort` / ``VideoTooSmall`` is raised before any frame is decoded
    (frames) or after (size).

    Returns:
        ``(T, H, W, 3)`` uint8 RGB frames.

    Raises:
        Exception: the backend's error for a corrupt or truncated file, ``ValueError`` for no frames.
    """
    sampler = RandomClipSampler(max_frames, stride=1) if max_frames is not None else None
    frames = _core_read_video(path, sampler=sampler, needs=needs).numpy()
    if frames.ndim != 4 or len(frames) == 0:
        raise ValueError(f"{path}: no frames decoded")
    return frames
