"""Uniform access to pixel videos from a :class:`~river_vp.config.VideoDataConfig`.

RIVER's sources are registered in sparse-core's dataset registry as ``river.<name>``:
``river.moving_shapes`` (sparse-core's procedural :class:`~sparse_core.data.video.BouncingShapes`),
``river.moving_fashion`` (sparse-core's :class:`~sparse_core.data.video.MovingFashion`: Fashion-MNIST garments
moving and bouncing on a 64x64 canvas, the Moving-MNIST construction; ``data.split='test'`` shows garments unseen
in training) and ``river.folder`` (real video files and frame folders). ``data.source`` names a registered source or,
for anything else, a folder of videos.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from river_vp.data.video_files import VideoFramesDataset, list_river_videos, load_video
from sparse_core.data import DatasetError, get_dataset_builder, list_datasets, register_dataset
from sparse_core.data.errors import skip_kind
from sparse_core.data.video import (
    BouncingShapes,
    MovingFashion,
    VideoNeeds,
    frames_to_float,
    moving_fashion,
    read_video,
)

if TYPE_CHECKING:
    from river_vp.config import VideoDataConfig

__all__ = ["PREFIX", "FashionFrames", "FashionVideos", "ShapeFrames", "VideoSource", "frame_dataset", "video_dataset"]

PREFIX = "river."
log = logging.getLogger("river_vp.data")


class _ShapeVideos(Dataset):
    """Bouncing-shapes videos as model inputs: item ``i`` is ``(T, 3, S, S)`` in [-1, 1]."""

    def __init__(self, shapes: BouncingShapes) -> None:
        self.shapes = shapes

    def __len__(self) -> int:
        return len(self.shapes)

    def name(self, i: int) -> str:
        return f"moving_shapes/seed{self.shapes.seed}/{i:06d}"

    def __getitem__(self, i: int) -> Tensor:
        return frames_to_float(torch.from_numpy(self.shapes.video(i)), "signed")


class ShapeFrames(Dataset):
    """Single frames of :class:`~sparse_core.data.video.BouncingShapes` for AE training: ``{"image": (3, S, S)}``
    in [-1, 1]."""

    def __init__(self, shapes: BouncingShapes) -> None:
        self.shapes = shapes

    def __len__(self) -> int:
        return len(self.shapes) * self.shapes.num_frames

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        v, t = divmod(index, self.shapes.num_frames)
        return {"image": frames_to_float(torch.from_numpy(self.shapes.frame(v, t))[None], "signed")[0]}


class FashionVideos(Dataset):
    """Moving Fashion-MNIST videos as model inputs: item ``i`` is ``(T, 3, S, S)`` in [-1, 1] (grey in RGB)."""

    def __init__(self, videos: MovingFashion) -> None:
        self.videos = videos

    def __len__(self) -> int:
        return len(self.videos)

    def name(self, i: int) -> str:
        return f"moving_fashion/{self.videos.split}/seed{self.videos.seed}/{i:06d}"

    def __getitem__(self, i: int) -> Tensor:
        return frames_to_float(torch.from_numpy(self.videos.video(i)), "signed")


class FashionFrames(Dataset):
    """Single frames of :class:`~sparse_core.data.video.MovingFashion` for AE training: ``{"image": (3, S, S)}``
    in [-1, 1]."""

    def __init__(self, videos: MovingFashion) -> None:
        self.videos = videos

    def __len__(self) -> int:
        return len(self.videos) * self.videos.num_frames

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        v, t = divmod(index, self.videos.num_frames)
        frame = torch.from_numpy(self.videos.video(v)[t : t + 1])  # (1, S, S, 3) uint8
        return {"image": frames_to_float(frame, "signed")[0]}


class _FileVideos(Dataset):
    """Video files / frame folders: item ``i`` is ``(T, 3, S, S)`` in [-1, 1] (raises on a corrupt file)."""

    def __init__(self, root: str | Path, cfg: VideoDataConfig) -> None:
        self.paths, self.cfg = list_river_videos(root), cfg

    def __len__(self) -> int:
        return len(self.paths)

    def name(self, i: int) -> str:
        return str(self.paths[i])

    def __getitem__(self, i: int) -> Tensor:
        return load_video(self.paths[i], self.cfg.image_size, self.cfg.num_frames or None, self.cfg.min_side)


@register_dataset(PREFIX + "moving_shapes")
def _moving_shapes(root: Any, split: str, transform: Any, cfg: VideoDataConfig, frames: bool = False) -> Dataset:
    shapes = BouncingShapes(cfg.num_videos, cfg.num_frames, cfg.image_size, cfg.num_shapes, cfg.seed)
    return ShapeFrames(shapes) if frames else _ShapeVideos(shapes)


@register_dataset(PREFIX + "moving_fashion")
def _moving_fashion(root: Any, split: str, transform: Any, cfg: VideoDataConfig, frames: bool = False) -> Dataset:
    videos = moving_fashion(cfg, split=cfg.split)
    return FashionFrames(videos) if frames else FashionVideos(videos)


@register_dataset(PREFIX + "folder")
def _folder(root: Any, split: str, transform: Any, cfg: VideoDataConfig, frames: bool = False) -> Dataset:
    path = root or cfg.root
    if path is None:
        raise DatasetError("data.source='folder' needs data.root (a folder of videos or frame folders)")
    dataset = (VideoFramesDataset(path, cfg.image_size, cfg.frames_per_video, cfg.min_side) if frames
               else _FileVideos(path, cfg))
    _require_one_readable(dataset.sources if frames else dataset.paths, path, cfg.min_side)
    return dataset


def _require_one_readable(paths: list[Path], root: Any, min_side: int = 1) -> None:
    """Refuse a folder none of whose videos can be used (a run on it would train on nothing).

    Files are tried in order until one decodes its first frame at ``min_side`` pixels or more, so a usable
    folder costs one read.

    Raises:
        DatasetError: every file fails; the message names the folder, the reasons and the first few files.
    """
    reasons: Counter[str] = Counter()
    for p in paths:
        try:
            read_video(p, indices=[0], needs=VideoNeeds(1, min_side))
            return
        except Exception as err:  # decord / PyAV / PIL raise many error types on broken files
            reasons[skip_kind(err)] += 1
    names = ", ".join(str(p) for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
    why = ", ".join(f"{c}x {kind}" for kind, c in reasons.most_common(3))
    small = f" (data.min_side={min_side})" if "too small" in reasons else ""
    raise DatasetError(f"data.source {root}: none of its {len(paths)} video(s) can be used: {why}{small} ({names})")


def _build(cfg: VideoDataConfig, frames: bool) -> Dataset:
    if PREFIX + cfg.source in list_datasets(PREFIX):
        return get_dataset_builder(cfg.source, PREFIX)(root=None, split="train", transform=None, cfg=cfg, frames=frames)
    if not Path(cfg.source).exists():
        names = ", ".join(n[len(PREFIX) :] for n in list_datasets(PREFIX))
        raise DatasetError(f"data.source {cfg.source!r} is neither a registered source ({names}) nor an existing path")
    return get_dataset_builder("folder", PREFIX)(root=cfg.source, split="train", transform=None, cfg=cfg, frames=frames)


def video_dataset(cfg: VideoDataConfig) -> Dataset:
    """Whole videos ``(T, 3, S, S)`` in [-1, 1], one per item, with ``name(i)``; a corrupt file raises."""
    return _build(cfg, frames=False)


def frame_dataset(cfg: VideoDataConfig) -> Dataset:
    """Single-frame dataset ``{"image": (3, S, S)}`` for autoencoder training."""
    return _build(cfg, frames=True)


class VideoSource:
    """Whole videos, one at a time: ``video(i) -> (T, 3, S, S) in [-1, 1]`` or None for an unreadable file."""

    def __init__(self, cfg: VideoDataConfig) -> None:
        self.cfg = cfg
        self.videos = video_dataset(cfg)
        self.num_skipped = 0

    def __len__(self) -> int:
        return len(self.videos)

    def name(self, i: int) -> str:
        """A printable identifier of video ``i``."""
        return self.videos.name(i)  # type: ignore[attr-defined]

    def video(self, i: int) -> Tensor | None:
        """Frames of video ``i`` or None (logged and counted) when it cannot be read."""
        try:
            return self.videos[i]
        except Exception as err:  # decord / PyAV / PIL raise many error types on broken files
            self.num_skipped += 1
            log.warning("skipping unreadable video %s (%s: %s)", self.name(i), type(err).__name__, err)
            return None
