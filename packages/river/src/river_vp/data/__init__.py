"""Data of river-vp: procedural and real videos (through sparse-core's video layer), and the latent cache."""

from river_vp.data.latent_cache import LatentCache, LatentCacheWriter, LatentFlowDataset
from river_vp.data.sources import ShapeFrames, VideoSource, frame_dataset, video_dataset

__all__ = [
    "LatentCache",
    "LatentCacheWriter",
    "LatentFlowDataset",
    "ShapeFrames",
    "VideoSource",
    "frame_dataset",
    "video_dataset",
]
