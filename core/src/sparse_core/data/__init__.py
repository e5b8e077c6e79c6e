"""Datasets, augmentations, the video data layer (:mod:`sparse_core.data.video`) and robust collation.

Every dataset returns dicts (``{"image": Tensor, "label": int, ...}``); a corrupt sample gives
``None`` (warning + ``num_skipped``) which :func:`collate_skip_none` drops and counts.
"""

from sparse_core.data.augment import (
    MultiCropTransform,
    MultiViewTransform,
    TwoViewDataset,
    eval_transform,
    ssl_view_transform,
    two_view_transform,
)
from sparse_core.data.collate import collate_skip_none
from sparse_core.data.errors import DatasetError
from sparse_core.data.fashion_mnist import FashionMNIST, read_idx
from sparse_core.data.image_folder import ImageFolderDataset, read_image
from sparse_core.data.probe import probe_dataset
from sparse_core.data.registry import build_dataset, get_dataset_builder, list_datasets, register_dataset
from sparse_core.data.shapes import SHAPES, SyntheticShapes, render_shape
from sparse_core.data.video import (
    MOTIONS,
    BouncingShapes,
    MotionShapes,
    RandomClipSampler,
    ShotShapes,
    SparseRandomSampler,
    UniformSampler,
    VideoClipDataset,
    VideoDataConfig,
    float_to_frames,
    frames_to_float,
    list_videos,
    make_sampler,
    read_video,
    write_video,
)

__all__ = [
    "MOTIONS",
    "SHAPES",
    "BouncingShapes",
    "DatasetError",
    "FashionMNIST",
    "ImageFolderDataset",
    "MultiCropTransform",
    "MotionShapes",
    "MultiViewTransform",
    "RandomClipSampler",
    "ShotShapes",
    "SparseRandomSampler",
    "SyntheticShapes",
    "TwoViewDataset",
    "UniformSampler",
    "VideoClipDataset",
    "VideoDataConfig",
    "build_dataset",
    "collate_skip_none",
    "eval_transform",
    "float_to_frames",
    "frames_to_float",
    "get_dataset_builder",
    "list_datasets",
    "list_videos",
    "probe_dataset",
    "make_sampler",
    "read_idx",
    "read_image",
    "read_video",
    "register_dataset",
    "render_shape",
    "ssl_view_transform",
    "two_view_transform",
    "write_video",
]
