"""Data of river-vp: procedural videos, real video files, and the latent cache."""

from river_vp.data.latent_cache import LatentCache, LatentCacheWriter, LatentFlowDataset
from river_vp.data.moving_shapes import MovingShapes, MovingShapesFrames
from river_vp.data.sources import VideoSource, frame_dataset

__all__ = [
    "LatentCache",
    "LatentCacheWriter",
    "LatentFlowDataset",
    "MovingShapes",
    "MovingShapesFrames",
    "VideoSource",
    "frame_dataset",
]
