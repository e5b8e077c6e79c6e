"""The data part of a video run config, shared by every package (packages subclass it for extras)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sparse_core.config import ConfigError
from sparse_core.data.video.names import LABEL_KINDS, MOTION_SHAPES, MOTIONS
from sparse_core.validation import check_choice, check_int

__all__ = ["VideoDataConfig"]


@dataclass
class VideoDataConfig:
    """Where the videos of a run come from: a procedural generator or a folder of files.

    A package subclasses it to change defaults or add method-specific fields (ViDROP's codebook,
    RIVER's frames per video); the common fields keep one name and one meaning everywhere. The source
    names are the package's, so a subclass checks ``source``; the numeric ranges are checked here.
    """

    source: str = "motion_shapes"
    """A dataset name of the package's registry (procedural ``'motion_shapes'`` / ``'moving_shapes'``,
    or file-based) or, where the package says so, a folder of videos."""
    root: str | None = None
    """Folder of videos (``root/<class>/<video>`` or flat) for file-based sources."""
    num_videos: int = 256
    """Procedural: number of videos, >= 1 (file-based sources use every video found)."""
    num_frames: int = 16
    """Procedural: frames per video (>= 1). A package may let file-based sources read 0 = all frames."""
    image_size: int = 64
    """Frame side in pixels (>= 1): procedural videos are drawn at this size, file-based frames are
    resized to it by the package."""
    seed: int = 0
    """Procedural: video ``i`` is a pure function of ``(seed, i)`` (seed >= 0); use different seeds per
    split."""
    num_classes: int = 8
    """motion_shapes: number of motion classes, 1 to 8 (the first ones of right, left, up, down, grow,
    shrink, rotate_cw, rotate_ccw)."""
    num_shapes: int = 2
    """moving_shapes: shapes per video (>= 1)."""
    segment_frames: int = 0
    """motion_shapes: appearance redrawn every this many frames (>= 0; 0: one appearance per video)."""
    num_shots: int = 3
    """shot_shapes: shots per video (2 to 4), each of ``num_frames // num_shots`` frames."""
    max_objects: int = 3
    """moving_fashion: garments per video, uniform in 1..max_objects (>= 1; Moving MNIST uses 2)."""
    num_directions: int = 8
    """moving_fashion: motion classes, the main garment's heading at frame 0 (>= 1)."""
    garments_root: str | None = None
    """moving_fashion: Fashion-MNIST folder (None: ``$SPARSE_SSL_FASHION_MNIST`` or Debian's install path)."""
    label_kind: str = "content"
    """moving_fashion: what a video's label is: ``'content'`` (main garment's class) or ``'motion'``."""
    min_side: int = 16
    """File-based sources: a video whose shorter side has fewer pixels is skipped and counted as too small
    (>= 1; 16: one ViT-B/16 patch, the backbone's stride; 1 accepts any size)."""

    def __post_init__(self) -> None:
        """Refuse out-of-range counts and sizes, naming the ``data.*`` key (ConfigError on the first bad field)."""
        check_int("data.num_videos", self.num_videos, 1)
        check_int("data.num_frames", self.num_frames, 0)
        check_int("data.min_side", self.min_side, 1)
        check_int("data.image_size", self.image_size, 1)
        check_int("data.seed", self.seed, 0)
        check_int("data.num_classes", self.num_classes, 1, high=len(MOTIONS))
        check_int("data.num_shapes", self.num_shapes, 1)
        check_int("data.segment_frames", self.segment_frames, 0)
        check_int("data.num_shots", self.num_shots, 2, high=len(MOTION_SHAPES))
        check_int("data.max_objects", self.max_objects, 1)
        check_int("data.num_directions", self.num_directions, 1)
        check_choice("data.label_kind", self.label_kind, LABEL_KINDS)
        if self.num_frames and self.num_frames < self.num_shots:
            raise ConfigError(f"data.num_frames: {self.num_frames} frames cannot hold data.num_shots = "
                              f"{self.num_shots} shots")


def __getattr__(name: str) -> Any:
    """``moving_fashion`` lives beside the torch dataset it builds; it stays importable from here, lazily.

    (No ``TYPE_CHECKING`` import here: jsonargparse runs such blocks of a config class's module, so a CLI's
    ``--help`` would import torch.)
    """
    if name == "moving_fashion":
        from sparse_core.data.video.moving_objects import moving_fashion

        return moving_fashion
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
