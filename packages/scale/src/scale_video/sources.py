"""Where extraction reads videos from: core's generated videos (:class:`MotionShapes`, :class:`ShotShapes`,
:class:`MovingFashion`) or files.

Both go through core's video data layer (:func:`~sparse_core.data.video.list_videos`,
:func:`~sparse_core.data.video.read_video`); a source only adds names and labels and hands the decoder the
frame sampler of a clip set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor

from scale_video.config import ExtractDataConfig
from sparse_core.config import ConfigError
from sparse_core.data.video import (
    FrameSampler,
    MotionShapes,
    MovingFashion,
    ShotShapes,
    VideoNeeds,
    list_videos,
    moving_fashion,
    read_video,
)

__all__ = ["VideoSource", "ProceduralSource", "FolderSource", "build_source", "SOURCES"]

SOURCES = ("motion_shapes", "shot_shapes", "moving_fashion", "folder")


class VideoSource(Protocol):
    """Indexed videos with names and labels."""

    classes: list[str]

    def __len__(self) -> int:
        """Number of videos."""
        ...

    def name(self, index: int) -> str:
        """A printable name of video ``index`` (its path for files)."""
        ...

    def label(self, index: int) -> int:
        """Class of video ``index`` (-1 when unknown)."""
        ...

    def read(self, index: int, sampler: FrameSampler) -> Tensor:
        """The frames ``sampler`` picks from video ``index``. Shape ``(F, H, W, 3)`` uint8."""
        ...


class ProceduralSource:
    """Core's generated videos: :class:`~sparse_core.data.video.MotionShapes` (label = motion class),
    :class:`~sparse_core.data.video.ShotShapes` (label = a question about all shots) or
    :class:`~sparse_core.data.video.MovingFashion` (label = the main garment's class or its heading)."""

    def __init__(self, videos: MotionShapes | ShotShapes | MovingFashion) -> None:
        self.videos = videos
        if isinstance(videos, MovingFashion):
            self.kind = f"moving_fashion_{videos.split}"
            self.classes = (list(videos.classes) if videos.label_kind == "content"
                            else [f"heading_{k}" for k in range(videos.num_directions)])
        else:
            self.kind = "shot_shapes" if isinstance(videos, ShotShapes) else "motion_shapes"
            self.classes = list(videos.classes)

    def __len__(self) -> int:
        """Number of videos."""
        return len(self.videos)

    def name(self, index: int) -> str:
        """``motion_shapes[<index>]``, ``shot_shapes[<index>]``, ``moving_fashion_train[<index>]`` / ``_test``."""
        return f"{self.kind}[{index}]"

    def label(self, index: int) -> int:
        """The generator's class of video ``index``."""
        return self.videos.label(index)

    def read(self, index: int, sampler: FrameSampler) -> Tensor:
        """Render video ``index`` and keep the sampled frames."""
        video = torch.from_numpy(self.videos.video(index))  # (T, H, W, 3)
        return video[torch.as_tensor(sampler(len(video)), dtype=torch.long)]


class FolderSource:
    """Video files (or frame folders) listed by :func:`~sparse_core.data.video.list_videos`."""

    def __init__(self, root: str | Path, layout: str = "auto", frame_folders: bool = False,
                 backend: str = "auto", min_side: int = 1) -> None:
        listing = list_videos(root, layout=layout, frame_folders=frame_folders)  # type: ignore[arg-type]
        self.items = listing.items
        self.classes = list(listing.classes)
        self.backend = backend
        self.needs = VideoNeeds(1, min_side)  # a video under min_side px is too small (VideoTooSmall)

    def __len__(self) -> int:
        """Number of videos."""
        return len(self.items)

    def name(self, index: int) -> str:
        """The video's path."""
        return str(self.items[index][0])

    def label(self, index: int) -> int:
        """The class folder's label (-1 for flat layouts)."""
        return self.items[index][1]

    def read(self, index: int, sampler: FrameSampler) -> Tensor:
        """Decode only the sampled frames (decord, PyAV fallback)."""
        return read_video(self.items[index][0], sampler=sampler, backend=self.backend,  # type: ignore[arg-type]
                          needs=self.needs)


def build_source(cfg: ExtractDataConfig, split: str) -> VideoSource:
    """The training (``split="train"``) or evaluation (``"val"``) videos of ``cfg``.

    ``moving_fashion``'s evaluation videos are core's ``split="test"``: their garments are Fashion-MNIST test
    images, never seen in training.

    Raises:
        ConfigError: an unknown source, or a folder source without the split's root.
        DatasetError: the folder has no videos.
    """
    train = split == "train"
    num, seed = (cfg.num_videos, cfg.seed) if train else (cfg.val_num_videos, cfg.seed + cfg.val_seed_offset)
    if cfg.source == "motion_shapes":
        return ProceduralSource(MotionShapes(
            num, num_frames=cfg.num_frames, image_size=cfg.image_size, seed=seed, num_classes=cfg.num_classes,
            segment_frames=cfg.segment_frames or None))
    if cfg.source == "shot_shapes":
        return ProceduralSource(ShotShapes(num, num_shots=cfg.num_shots, shot_frames=cfg.num_frames // cfg.num_shots,
                                           image_size=cfg.image_size, seed=seed))
    if cfg.source == "moving_fashion":
        if train:
            return ProceduralSource(moving_fashion(cfg, "train"))
        return ProceduralSource(moving_fashion(cfg, "test", num_videos=cfg.val_num_videos,
                                               seed_offset=cfg.val_seed_offset))
    if cfg.source == "folder":
        root, key = (cfg.root, "data.root") if train else (cfg.val_root, "data.val_root")
        if root is None:
            raise ConfigError(f"{key} is required for data.source=folder (pass --{key} PATH)")
        if not Path(root).exists():
            raise ConfigError(f"{key}: no such file or folder: {root}")
        if cfg.layout not in ("auto", "classes", "flat"):
            raise ConfigError(f"data.layout: {cfg.layout!r} is not one of auto, classes, flat")
        if cfg.backend not in ("auto", "decord", "pyav"):
            raise ConfigError(f"data.backend: {cfg.backend!r} is not one of auto, decord, pyav")
        return FolderSource(root, cfg.layout, cfg.frame_folders, cfg.backend, cfg.min_side)
    raise ConfigError(f"data.source: unknown source {cfg.source!r}; choose from {', '.join(SOURCES)}")
