"""Build the training / evaluation datasets named by a :class:`~vidrop.config.DataConfig`."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor
from torch.utils.data import Dataset

from vidrop.config import DataConfig
from vidrop.data.datasets import CodeFolderDataset, ProceduralClipDataset, VideoFolderDataset
from vidrop.data.procedural import ProceduralVideos

__all__ = ["build_dataset", "DATA_SOURCES"]

DATA_SOURCES = ("procedural", "video", "codes")


def build_dataset(cfg: DataConfig, transform: Callable[[Tensor], dict[str, Tensor]] | None = None,
                  root: str | None = None, seed_offset: int = 0) -> Dataset:
    """The dataset of ``cfg`` with ``transform`` applied to each ``(T, H, W, 3)`` uint8 video.

    Args:
        cfg: data config (``source`` picks procedural clips, raw videos through decord, or k-means codes).
        transform: e.g. :class:`~vidrop.data.views.MultiClipViews` for training (None: raw ``"video"``).
        root: overrides ``cfg.root`` (e.g. an evaluation split).
        seed_offset: added to the procedural seed (a disjoint evaluation set).
    """
    if cfg.source == "procedural":
        videos = ProceduralVideos(cfg.num_samples, cfg.frames, cfg.size, cfg.seed + seed_offset, cfg.num_classes)
        return ProceduralClipDataset(videos, transform)
    path = root or cfg.root
    if path is None:
        raise ValueError(f"data.source={cfg.source!r} needs data.root (a folder root/<class>/<file>)")
    if cfg.source == "video":
        return VideoFolderDataset(path, transform, cfg.max_frames)
    if cfg.source == "codes":
        return CodeFolderDataset(path, transform, cfg.codebook)
    raise ValueError(f"data.source must be one of {DATA_SOURCES}, got {cfg.source!r}")
