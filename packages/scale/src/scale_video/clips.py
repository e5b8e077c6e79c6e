"""Sets of clips from one video: random spatio-temporal crops + augmentations, or the uniform test grid.

Training sets (sec. 4.2.3, "Input sparsity"): each of the ``2K`` clips gets its own random temporal window
(core's :class:`~sparse_core.data.video.RandomClipSampler` with a stride drawn from ``frame_strides``), its own
random resized crop (torchvision's parameters), flip and colour jitter. Only the frames some clip needs are
decoded: the temporal windows are drawn from the frame count first, inside the decoder's sampler call.

Every random draw of one ``(video, pass)`` comes from the global torch RNG inside ``torch.random.fork_rng``
seeded with :func:`sparse_core.engine.mix_seed` of ``(seed, video, pass, stream)``: a set is a pure function of
those keys, whatever the worker, process or order it is made in. Clips are returned as uint8
``(N, 3, T, S, S)`` (what a data loader worker ships cheaply) with their normalised boxes (eq. 4.5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision import transforms as T
from torchvision.transforms import v2

from scale_video.boxes import BOX_DIM, Crop, uniform_grid_crops
from scale_video.config import ClipSamplingConfig
from sparse_core.data.video import RandomClipSampler
from sparse_core.data.video import VideoTooShort as CoreVideoTooShort
from sparse_core.engine import mix_seed, stream_id

__all__ = ["ClipSet", "VideoTooShort", "SetSampler", "cut_clip", "clip_set_seed"]

_STREAM = stream_id("scale.extract.crops")


class VideoTooShort(CoreVideoTooShort):
    """A video with fewer frames than a clip set needs (skipped and counted by the extractor)."""


@dataclass
class ClipSet:
    """The clips of one video and where they come from.

    Attributes:
        clips: uint8 clips. Shape ``(N, 3, T, S, S)``.
        boxes: normalised boxes (eq. 4.5). Shape ``(N, 6)`` float32.
        crops: the source crops, in clip order.
        video_shape: ``(frames, height, width)`` of the source video.
    """

    clips: Tensor
    boxes: np.ndarray
    crops: list[Crop]
    video_shape: tuple[int, int, int]


def clip_set_seed(seed: int, video: int, pass_index: int) -> int:
    """Seed of the draws of video ``video``'s set number ``pass_index`` (core's :func:`mix_seed`)."""
    return mix_seed(seed, video, pass_index, _STREAM)


def cut_clip(frames: Tensor, crop: Crop, size: int, positions: dict[int, int] | None = None) -> Tensor:
    """Cut one crop from decoded frames and resize it (bilinear, antialiased) to ``size x size``.

    Args:
        frames: decoded frames, canonical layout. Shape ``(F, H, W, 3)`` uint8.
        crop: where the clip lies (source frame indices, box, flip).
        size: output side ``S``.
        positions: source frame index -> row of ``frames`` (None: ``frames`` holds every frame).

    Returns:
        float32 in [0, 1]. Shape ``(T, 3, S, S)``.
    """
    rows = [positions[i] for i in crop.frames] if positions is not None else list(crop.frames)
    x = frames[rows, crop.top:crop.top + crop.height, crop.left:crop.left + crop.width]  # (T, h, w, 3)
    x = x.permute(0, 3, 1, 2).float() / 255.0  # (T, 3, h, w)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    if crop.flip:
        x = x.flip(-1)
    return x.clamp_(0.0, 1.0)


def _to_uint8(x: Tensor) -> Tensor:
    """``(T, 3, S, S)`` float [0, 1] -> ``(3, T, S, S)`` uint8."""
    return (x * 255.0).round_().clamp_(0, 255).to(torch.uint8).permute(1, 0, 2, 3).contiguous()


class _WindowSampler:
    """A frame sampler for the decoder: draws every clip's window from the frame count, returns their union."""

    def __init__(self, cfg: ClipSamplingConfig, train: bool) -> None:
        self.cfg, self.train = cfg, train
        self.num_frames = cfg.num_frames
        self.total = 0
        self.windows: list[tuple[int, ...]] = []

    def __call__(self, total: int) -> list[int]:
        cfg = self.cfg
        min_frames = cfg.min_frames if cfg.min_frames is not None else cfg.num_frames
        if total < max(min_frames, 1):
            raise VideoTooShort(f"too short: {total} frame(s), fewer than the {min_frames} a clip needs")
        self.total = total
        if self.train:
            self.windows = []
            for _ in range(cfg.num_clips):
                stride = cfg.frame_strides[int(torch.randint(len(cfg.frame_strides), ()).item())]
                self.windows.append(tuple(RandomClipSampler(cfg.num_frames, stride)(total)))
        else:  # uniform windows; the spatial grid follows once the frame size is known
            grid = uniform_grid_crops(total, 1, 1, cfg.num_frames, cfg.eval_stride, cfg.eval_temporal, 1)
            self.windows = [c.frames for c in grid]
        return sorted({i for w in self.windows for i in w})


class SetSampler:
    """Makes the clip set of one video: training (random crops + augmentations) or test views (uniform grid).

    Args:
        cfg: sampling settings.
        size: side ``S`` of the output clips.
        train: random training sets (``cfg.num_clips`` clips) or the ``eval_temporal x eval_spatial`` grid.
        seed: run seed (with the video index and pass it keys every draw).
    """

    def __init__(self, cfg: ClipSamplingConfig, size: int, train: bool, seed: int = 0) -> None:
        if cfg.num_clips < 1 or cfg.num_frames < 1 or not cfg.frame_strides or min(cfg.frame_strides) < 1:
            raise ValueError("sampling needs num_clips >= 1, num_frames >= 1 and frame_strides >= 1")
        self.cfg, self.size, self.train, self.seed = cfg, size, train, seed
        self._jitter = (v2.ColorJitter(brightness=cfg.color_jitter, contrast=cfg.color_jitter,
                                       saturation=cfg.color_jitter) if cfg.color_jitter > 0 else None)
        self._gray = v2.RandomGrayscale(p=cfg.grayscale_prob) if cfg.grayscale_prob > 0 else None

    @property
    def clips_per_set(self) -> int:
        """``N``: clips per set (2K for training, temporal x spatial views for tests)."""
        return self.cfg.num_clips if self.train else self.cfg.eval_temporal * self.cfg.eval_spatial

    def __call__(self, read: Callable[[_WindowSampler], Tensor], video: int, pass_index: int = 0) -> ClipSet:
        """Make the set of video ``video`` for pass ``pass_index``.

        Args:
            read: decodes the frames the given sampler asks for (it calls the sampler with the frame count).
            video: video index (a key of the draws).
            pass_index: augmented pass (a key of the draws; test views ignore it).

        Returns:
            The clip set.

        Raises:
            VideoTooShort: fewer frames than ``min_frames``; whatever ``read`` raises for a corrupt file.
        """
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(clip_set_seed(self.seed, video, pass_index if self.train else 0))
            sampler = _WindowSampler(self.cfg, self.train)
            frames = read(sampler)  # (F, H, W, 3) uint8, the union of the windows' frames in sorted order
            needed = sorted({i for w in sampler.windows for i in w})
            if frames.ndim != 4 or frames.shape[0] != len(needed) or frames.shape[-1] != 3:
                raise ValueError(f"decoder returned frames of shape {tuple(frames.shape)}, expected "
                                 f"({len(needed)}, H, W, 3)")
            positions = {src: row for row, src in enumerate(needed)}
            height, width = int(frames.shape[1]), int(frames.shape[2])
            crops = self._train_crops(frames, sampler) if self.train else self._grid_crops(sampler, height, width)
            clips = []
            for crop in crops:
                x = cut_clip(frames, crop, self.size, positions)  # (T, 3, S, S)
                if self.train:
                    x = self._augment(x)
                clips.append(_to_uint8(x))
        shape = (sampler.total, height, width)
        boxes = np.stack([c.box(height, width, sampler.total) for c in crops]) if crops else np.zeros((0, BOX_DIM))
        return ClipSet(torch.stack(clips), boxes.astype(np.float32), crops, shape)

    def _train_crops(self, frames: Tensor, sampler: _WindowSampler) -> list[Crop]:
        cfg = self.cfg
        image = frames[0].permute(2, 0, 1)  # (3, H, W): only its size is read
        crops = []
        for window in sampler.windows:
            top, left, h, w = T.RandomResizedCrop.get_params(image, list(cfg.crop_scale), list(cfg.crop_ratio))
            flip = bool(cfg.hflip and torch.rand(()).item() < 0.5)
            crops.append(Crop(window, int(top), int(left), int(h), int(w), flip))
        return crops

    def _grid_crops(self, sampler: _WindowSampler, height: int, width: int) -> list[Crop]:
        cfg = self.cfg
        grid = uniform_grid_crops(sampler.total, height, width, cfg.num_frames, cfg.eval_stride,
                                  cfg.eval_temporal, cfg.eval_spatial)
        return grid

    def _augment(self, clip: Tensor) -> Tensor:
        """Per-clip photometric augmentation, the same for every frame of the clip. Shape ``(T, 3, S, S)``."""
        if self._jitter is not None:
            clip = self._jitter(clip)
        if self._gray is not None:
            clip = self._gray(clip)
        return clip
