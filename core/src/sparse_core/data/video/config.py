"""The data part of a video run config, shared by every package (packages subclass it for extras)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["VideoDataConfig"]


@dataclass
class VideoDataConfig:
    """Where the videos of a run come from: a procedural generator or a folder of files.

    A package subclasses it to change defaults or add method-specific fields (ViDROP's codebook,
    RIVER's frames per video); the common fields keep one name and one meaning everywhere.
    """

    source: str = "motion_shapes"
    """A dataset name of the package's registry (procedural ``'motion_shapes'`` / ``'moving_shapes'``,
    or file-based) or, where the package says so, a folder of videos."""
    root: str | None = None
    """Folder of videos (``root/<class>/<video>`` or flat) for file-based sources."""
    num_videos: int = 256
    """Procedural: number of videos (file-based sources use every video found)."""
    num_frames: int = 16
    """Procedural: frames per video."""
    image_size: int = 64
    """Procedural: frame side in pixels; file-based: the side the package resizes frames to."""
    seed: int = 0
    """Procedural: video ``i`` is a pure function of ``(seed, i)``; use different seeds per split."""
    num_classes: int = 8
    """motion_shapes: number of motion classes (<= 8)."""
    num_shapes: int = 2
    """moving_shapes: shapes per video."""
    segment_frames: int = 0
    """motion_shapes: appearance redrawn every this many frames (0: one appearance per video)."""
