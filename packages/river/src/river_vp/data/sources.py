"""Uniform access to pixel videos from a :class:`~river_vp.config.VideoDataConfig`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from torch import Tensor
from torch.utils.data import Dataset

from river_vp.data.moving_shapes import MovingShapes, MovingShapesFrames
from river_vp.data.video_files import VideoFramesDataset, list_video_sources, load_video

if TYPE_CHECKING:
    from river_vp.config import VideoDataConfig

__all__ = ["VideoSource", "frame_dataset"]

log = logging.getLogger("river_vp.data")


class VideoSource:
    """Whole videos, one at a time: ``video(i) -> (T, 3, S, S) in [-1, 1]`` or None for an unreadable file."""

    def __init__(self, cfg: VideoDataConfig) -> None:
        self.cfg = cfg
        if cfg.source == "moving_shapes":
            self.shapes: MovingShapes | None = MovingShapes(
                cfg.num_videos, cfg.num_frames, cfg.image_size, cfg.num_shapes, cfg.seed
            )
            self.paths: list = []
        else:
            self.shapes = None
            self.paths = list_video_sources(cfg.source)
        self.num_skipped = 0

    def __len__(self) -> int:
        return len(self.shapes) if self.shapes is not None else len(self.paths)

    def name(self, i: int) -> str:
        """A printable identifier of video ``i``."""
        return f"moving_shapes/seed{self.cfg.seed}/{i:06d}" if self.shapes is not None else str(self.paths[i])

    def video(self, i: int) -> Tensor | None:
        """Frames of video ``i`` or None (logged and counted) when it cannot be read."""
        if self.shapes is not None:
            return self.shapes[i]["video"]  # type: ignore[return-value]
        try:
            return load_video(self.paths[i], self.cfg.image_size, self.cfg.num_frames or None)
        except Exception as err:  # decord / PyAV / PIL raise many error types on broken files
            self.num_skipped += 1
            log.warning("skipping unreadable video %s (%s: %s)", self.paths[i], type(err).__name__, err)
            return None


def frame_dataset(cfg: VideoDataConfig) -> Dataset:
    """Single-frame dataset ``{"image": (3, S, S)}`` for autoencoder training."""
    if cfg.source == "moving_shapes":
        return MovingShapesFrames(
            MovingShapes(cfg.num_videos, cfg.num_frames, cfg.image_size, cfg.num_shapes, cfg.seed)
        )
    return VideoFramesDataset(cfg.source, cfg.image_size, cfg.frames_per_video)
