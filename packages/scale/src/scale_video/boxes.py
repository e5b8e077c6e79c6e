"""Spatio-temporal crop boxes and their normalised coordinates (thesis eq. 4.5).

A clip ``V_i`` is cut from a video of ``H x W`` pixels and ``T`` frames at the location ``(X_i, Y_i, Q_i)``
with size ``(H_i, W_i, T_i)``; the thesis' ``X`` runs along the height (rows) and ``Y`` along the width
(columns). Its normalised box, the input of the position MLP, is

    [X/H, Y/W, Q/T, (X + H_i)/H, (Y + W_i)/W, (Q + T_i)/T]                                  (4.5)

Here ``X`` is the crop's top row, ``Y`` its left column, ``Q`` the first sampled frame and ``T_i`` the number of
source frames the clip spans (first to last sampled frame, both included), so every coordinate lies in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BOX_DIM", "Crop", "normalise_box", "uniform_grid_crops"]

BOX_DIM = 6
"""Length of a normalised box (eq. 4.5): ``X/H, Y/W, Q/T, (X + H_i)/H, (Y + W_i)/W, (Q + T_i)/T``."""


@dataclass(frozen=True)
class Crop:
    """Where a clip comes from in its video, in source pixels and frames.

    Attributes:
        frames: source frame indices of the clip (non-decreasing; the last may repeat at a short video's end).
        top: first row ``X``.
        left: first column ``Y``.
        height: rows ``H_i``.
        width: columns ``W_i``.
        flip: mirrored left-right after cropping (the box is the same region).
    """

    frames: tuple[int, ...]
    top: int
    left: int
    height: int
    width: int
    flip: bool = False

    @property
    def start(self) -> int:
        """First frame ``Q``."""
        return self.frames[0]

    @property
    def duration(self) -> int:
        """Source frames spanned ``T_i`` (first to last sampled frame, inclusive)."""
        return self.frames[-1] - self.frames[0] + 1

    def box(self, video_height: int, video_width: int, video_frames: int) -> np.ndarray:
        """This crop's normalised box (eq. 4.5) in a ``video_height x video_width x video_frames`` video."""
        return normalise_box(self.top, self.left, self.start, self.height, self.width, self.duration,
                             video_height, video_width, video_frames)


def normalise_box(x: float, y: float, q: float, h: float, w: float, t: float,
                  height: float, width: float, frames: float) -> np.ndarray:
    """Eq. 4.5: ``[X/H, Y/W, Q/T, (X + H_i)/H, (Y + W_i)/W, (Q + T_i)/T]`` as float32.

    Args:
        x: top row ``X`` of the crop.
        y: left column ``Y``.
        q: first frame ``Q``.
        h: crop height ``H_i``.
        w: crop width ``W_i``.
        t: clip duration ``T_i`` in source frames.
        height: video height ``H``.
        width: video width ``W``.
        frames: video length ``T`` in frames.

    Returns:
        ``(6,)`` float32.
    """
    return np.array([x / height, y / width, q / frames, (x + h) / height, (y + w) / width, (q + t) / frames],
                    dtype=np.float32)


def _even(extent: int, n: int) -> list[int]:
    """``n`` offsets evenly spread over ``[0, extent]`` (the centre when ``n == 1``)."""
    if n == 1:
        return [extent // 2]
    return [round(extent * j / (n - 1)) for j in range(n)]


def uniform_grid_crops(video_frames: int, video_height: int, video_width: int, num_frames: int, stride: int,
                       num_temporal: int = 5, num_spatial: int = 3) -> list[Crop]:
    """The deterministic multi-view test crops: ``num_temporal`` clips x ``num_spatial`` square crops.

    The 5 x 3 scheme of the thesis (sec. 4.3.1; Feichtenhofer et al.) and 2 x 3 for SSv2: clip starts
    evenly spaced over the video (segment centres of the positions where a clip fits), and for each a square
    of the short side at ``num_spatial`` evenly spaced offsets along the long side (3: top/left, centre,
    bottom/right). Resizing that square to the model's side is the usual "short side to S, then crop S".

    Args:
        video_frames: ``T``.
        video_height: ``H``.
        video_width: ``W``.
        num_frames: frames per clip.
        stride: step between sampled frames.
        num_temporal: clips along time.
        num_spatial: crops per clip.

    Returns:
        ``num_temporal * num_spatial`` crops, temporal-major.
    """
    span = (num_frames - 1) * stride + 1
    last = max(video_frames - span, 0)
    starts = [round(last * (i + 0.5) / num_temporal) for i in range(num_temporal)]
    side = min(video_height, video_width)
    long_is_height = video_height > video_width
    offsets = _even((video_height if long_is_height else video_width) - side, num_spatial)
    crops = []
    for s in starts:
        frames = tuple(min(video_frames - 1, s + stride * k) for k in range(num_frames))
        for off in offsets:
            top, left = (off, 0) if long_is_height else (0, off)
            crops.append(Crop(frames, top, left, side, side))
    return crops
