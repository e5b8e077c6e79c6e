"""The one clip layout of sparse-core, and converters to the float layouts models take.

Canonical layout: a clip is ``(T, H, W, 3)`` uint8 RGB, time first, channels last. This is what the
decoders (:func:`~sparse_core.data.video.decoding.read_video`), the procedural generators and the
writer (:func:`~sparse_core.data.video.writing.write_video`) use, on disk and in memory, so a clip can
go from a generator to a file and back without conversion.

Models take float clips, in one of two layouts and two value ranges:

* ``"tchw"``: ``(T, 3, H, W)``, a batch of frames (image autoencoders, per-frame models; RIVER).
* ``"cthw"``: ``(3, T, H, W)``, the VideoMAE / :class:`~sparse_core.models.video_vit.VideoViT` layout.
* ``"unit"`` range ``[0, 1]`` (``x / 255``), or ``"signed"`` range ``[-1, 1]`` (``x / 127.5 - 1``,
  the range of VQGAN-style autoencoders).

:func:`frames_to_float` and :func:`float_to_frames` convert between the canonical layout and these;
``float_to_frames(frames_to_float(x, r, l), r, l) == x`` for every uint8 clip.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["FloatLayout", "ValueRange", "center_crop_resize", "float_to_frames", "frames_to_float"]

FloatLayout = Literal["tchw", "cthw"]
ValueRange = Literal["unit", "signed"]


def _check(value_range: str, layout: str) -> None:
    if value_range not in ("unit", "signed"):
        raise ValueError(f"unknown value_range {value_range!r}; choose 'unit' or 'signed'")
    if layout not in ("tchw", "cthw"):
        raise ValueError(f"unknown layout {layout!r}; choose 'tchw' or 'cthw'")


def frames_to_float(frames: Tensor, value_range: ValueRange = "unit", layout: FloatLayout = "tchw") -> Tensor:
    """Canonical uint8 clip -> float32 model input.

    Args:
        frames: Clip in the canonical layout.
        value_range: ``"unit"`` ([0, 1]) or ``"signed"`` ([-1, 1]).
        layout: ``"tchw"`` or ``"cthw"``.

    Returns:
        Float32 clip, contiguous.

    Shape:
        frames ``(T, H, W, 3)`` uint8 -> ``(T, 3, H, W)`` (``"tchw"``) or ``(3, T, H, W)`` (``"cthw"``).
    """
    _check(value_range, layout)
    x = frames.float()
    x = x / 255.0 if value_range == "unit" else x / 127.5 - 1.0
    x = x.permute(0, 3, 1, 2) if layout == "tchw" else x.permute(3, 0, 1, 2)
    return x.contiguous()


def float_to_frames(video: Tensor, value_range: ValueRange = "unit", layout: FloatLayout = "tchw") -> Tensor:
    """Float clip -> canonical uint8 clip (values clamped to the range, then rounded).

    Args:
        video: Float clip in ``layout``.
        value_range: Range of ``video``, ``"unit"`` or ``"signed"``.
        layout: ``"tchw"`` or ``"cthw"``.

    Returns:
        uint8 clip on the CPU.

    Shape:
        ``(T, 3, H, W)`` or ``(3, T, H, W)`` -> ``(T, H, W, 3)`` uint8.
    """
    _check(value_range, layout)
    x = video.detach().float()
    x = x.clamp(0, 1) * 255.0 if value_range == "unit" else (x.clamp(-1, 1) + 1) * 127.5
    x = x.round().to(torch.uint8)
    x = x.permute(0, 2, 3, 1) if layout == "tchw" else x.permute(1, 2, 3, 0)
    return x.contiguous().cpu()


def center_crop_resize(video: Tensor, size: int) -> Tensor:
    """Centre square crop, then bilinear (antialiased) resize to ``size`` x ``size``.

    Args:
        video: Float clip in the ``"tchw"`` layout (any value range).
        size: Output side ``S``.

    Returns:
        The resized clip, same dtype.

    Shape:
        ``(T, C, H, W)`` -> ``(T, C, S, S)``.
    """
    h, w = video.shape[-2:]
    s = min(h, w)
    x = video[..., (h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    if s != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x
