"""Multi-clip view sampling (thesis sec. 6.2.1): two large clips and several small clips per video.

Only random resized cropping (one crop box per clip, shared by its frames) and an optional horizontal flip
are used: the thesis relies on heavy masking and the lossy codec as pseudo-augmentation. Optional: per-clip
colour jitter / greyscale, and ``global_windows`` (large clip ``i`` drawn inside time window
``i mod global_windows``, for temporally distant positives; with ``local_windows``, the default, small clip
``j`` inside window ``j mod global_windows``, so no clip straddles a window border). Randomness comes
from the torch global RNG (the engine reseeds it per sample, so resume is exact).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from sparse_core.data.video import VideoNeeds
from vidrop.config import ViewsConfig

__all__ = ["ViewsConfig", "MultiClipViews", "temporal_indices", "random_resized_box", "clip_to_tensor",
           "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def temporal_indices(num_video_frames: int, num_frames: int, stride: int,
                     window: tuple[int, int] | None = None) -> Tensor:
    """Frame indices of one clip at a random start; short videos are looped.

    Args:
        num_video_frames: frames of the video.
        num_frames: frames of the clip.
        stride: step between the clip's frames.
        window: ``(first, length)``: the clip lies inside frames ``[first, first + length)`` where it fits
            (its start is drawn in the window, and clamped to it when the clip is longer); None: anywhere.

    Shape:
        ``(num_frames,)`` long in ``[0, num_video_frames)``.
    """
    span = (num_frames - 1) * stride + 1
    first, length = window if window is not None else (0, num_video_frames)
    start = first + int(torch.randint(0, max(length - span, 0) + 1, (1,)))
    return (start + torch.arange(num_frames) * stride) % num_video_frames


def random_resized_box(height: int, width: int, scale: tuple[float, float],
                       ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> tuple[int, int, int, int]:
    """A random crop box ``(top, left, h, w)`` covering ``scale`` of the area (torchvision's rule)."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * float(torch.empty(1).uniform_(scale[0], scale[1]))
        aspect = math.exp(float(torch.empty(1).uniform_(*log_ratio)))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,)))
            left = int(torch.randint(0, width - w + 1, (1,)))
            return top, left, h, w
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side, side


def clip_to_tensor(frames: Tensor, size: int, box: tuple[int, int, int, int] | None = None) -> Tensor:
    """Crop, resize and normalise uint8 frames into a model input.

    Shape:
        frames ``(T, H, W, 3)`` uint8 -> ``(3, T, size, size)`` float32 (ImageNet-normalised).
    """
    x = frames.permute(0, 3, 1, 2).float().div_(255.0)  # (T, 3, H, W)
    if box is not None:
        top, left, h, w = box
        x = x[:, :, top:top + h, left:left + w]
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).permute(1, 0, 2, 3).contiguous()


class MultiClipViews:
    """Cut ``num_global`` large and ``num_local`` small clips from one video.

    Returns a dict ``{"global": (G, 3, Tg, Sg, Sg), "local": (L, 3, Tl, Sl, Sl)}`` (``"local"`` absent when
    ``num_local == 0``).
    """

    def __init__(self, cfg: ViewsConfig, min_side: int = 1) -> None:
        self.cfg = cfg
        self.min_side = min_side

    @property
    def needs(self) -> VideoNeeds:
        """The least a video holds for these views: each large clip's span in its own time window (all of them
        in one when ``global_windows`` is 0), a local clip's span, and ``min_side`` pixels (the encoder's patch);
        a video file short of it is skipped and counted (:class:`~sparse_core.data.video.VideoNeeds`)."""
        c = self.cfg
        span_g = (c.global_frames - 1) * c.frame_stride + 1
        span_l = (c.local_frames - 1) * c.frame_stride + 1 if c.num_local > 0 else 1
        frames = max(span_g * max(c.global_windows, 1), span_l)
        windows = f" in each of {c.global_windows} windows" if c.global_windows else ""
        return VideoNeeds(frames, self.min_side, f"{c.global_frames} frames at stride {c.frame_stride}{windows}")

    def _clip(self, video: Tensor, frames: int, size: int, scale: tuple[float, float],
              window: tuple[int, int] | None = None) -> Tensor:
        t, h, w, _ = video.shape
        idx = temporal_indices(t, frames, self.cfg.frame_stride, window)
        x = clip_to_tensor(video[idx], size, random_resized_box(h, w, scale))
        if self.cfg.color_jitter > 0 or self.cfg.grayscale_prob > 0:
            x = self._jitter(x)
        if self.cfg.hflip and bool(torch.rand(1) < 0.5):
            x = x.flip(-1)
        return x

    def _jitter(self, x: Tensor) -> Tensor:
        """Per-clip colour jitter on a normalised ``(3, T, S, S)`` clip: random per-channel gain and offset
        (strength ``color_jitter``), then grey with probability ``grayscale_prob``; one draw for all frames."""
        mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(3, 1, 1, 1)
        rgb = x * std + mean  # back to [0, 1]
        s = self.cfg.color_jitter
        if s > 0:
            gain = 1.0 + s * (2 * torch.rand(3, 1, 1, 1) - 1)
            offset = 0.5 * s * (2 * torch.rand(3, 1, 1, 1) - 1)
            rgb = (rgb * gain + offset).clamp(0.0, 1.0)
        if self.cfg.grayscale_prob > 0 and bool(torch.rand(1) < self.cfg.grayscale_prob):
            w = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1, 1)
            rgb = (rgb * w).sum(0, keepdim=True).expand(3, -1, -1, -1)
        return (rgb - mean) / std

    def windows(self, num_video_frames: int, num_clips: int) -> list[tuple[int, int] | None]:
        """Time window ``(first, length)`` of clip ``i`` of ``num_clips``: window ``i mod global_windows`` of the
        video's ``global_windows`` equal windows, or None (anywhere) when ``global_windows`` is 0."""
        n_win, t = self.cfg.global_windows, num_video_frames
        return [((i % n_win) * t // n_win, t // n_win) if n_win else None for i in range(num_clips)]

    def __call__(self, video: Tensor) -> dict[str, Tensor]:
        """``video``: ``(T, H, W, 3)`` uint8."""
        c = self.cfg
        t = video.shape[0]
        out = {"global": torch.stack([self._clip(video, c.global_frames, c.global_size, c.global_scale, win)
                                      for win in self.windows(t, c.num_global)])}
        if c.num_local > 0:
            local_windows = self.windows(t, c.num_local) if c.local_windows else [None] * c.num_local
            out["local"] = torch.stack([self._clip(video, c.local_frames, c.local_size, c.local_scale, win)
                                        for win in local_windows])
        return out
