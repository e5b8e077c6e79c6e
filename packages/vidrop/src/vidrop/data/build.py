"""Build the training / evaluation datasets named by a :class:`~vidrop.config.DataConfig`.

ViDROP's sources are registered in sparse-core's dataset registry as ``vidrop.<source>``
(``moving_fashion``, ``procedural``, ``video``, ``codes``); :func:`build_dataset` looks ``cfg.source`` up there.

``moving_fashion`` is sparse-core's :class:`~sparse_core.data.video.MovingFashion` (Fashion-MNIST garments moving
and bouncing, Moving-MNIST style): two temporal windows of one video share the garments (content) and the
main garment's motion, as two clips of a real video do. Its items carry ``"content"`` (garment class) and
``"motion"`` (heading class) next to ``"label"`` (the ``data.label_kind`` one); ``split="test"`` draws
garments the training split never shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor
from torch.utils.data import Dataset

from sparse_core.data import get_dataset_builder, list_datasets, register_dataset
from sparse_core.data.video import MotionShapes, MovingFashion, moving_fashion
from vidrop.config import DataConfig
from vidrop.data.datasets import CodeFolderDataset, ProceduralClipDataset, VideoFolderDataset

__all__ = ["build_dataset", "motion_videos", "fashion_videos", "DATA_SOURCES", "SPLITS"]

PREFIX = "vidrop."
SPLITS = ("train", "test")
"""``split`` choices of :func:`build_dataset` (only ``moving_fashion`` tells them apart: unseen garments)."""
Transform = Callable[[Tensor], dict[str, Tensor]]


def _root(cfg: DataConfig, root: str | None) -> str:
    path = root or cfg.root
    if path is None:
        raise ValueError(f"data.source={cfg.source!r} needs data.root (a folder root/<class>/<file>)")
    return path


def motion_videos(cfg: DataConfig, num_videos: int | None = None, seed_offset: int = 0,
                  single_shot: bool = False) -> MotionShapes:
    """The procedural motion videos that ``cfg`` describes (every ``data.*`` field of MotionShapes).

    Args:
        cfg: data config (``num_frames``, ``image_size``, ``seed``, ``num_classes``, ``segment_frames``,
            ``radius_range``, ``speed_scale``).
        num_videos: overrides ``cfg.num_videos`` (e.g. a held-out split of another size).
        seed_offset: added to ``cfg.seed`` (a disjoint split).
        single_shot: videos of one segment (``segment_frames`` frames, no cut) moving at the same speed per
            frame as ``cfg``'s: evaluation clips that, like the training clips of ``views.global_windows``,
            never straddle a cut. Same as the plain videos when ``segment_frames`` is 0.
    """
    n = cfg.num_videos if num_videos is None else num_videos
    frames, seg, speed = cfg.num_frames, cfg.segment_frames or None, cfg.speed_scale
    if single_shot and seg is not None and seg < frames:
        speed = speed * max(seg - 1, 1) / max(frames - 1, 1)  # motion rates are relative to the whole video
        frames, seg = seg, None
    return MotionShapes(n, frames, cfg.image_size, cfg.seed + seed_offset, cfg.num_classes, seg,
                        tuple(cfg.radius_range), speed)  # type: ignore[arg-type]


def fashion_videos(cfg: DataConfig, split: str = "train", num_videos: int | None = None, seed_offset: int = 0,
                   label_kind: str | None = None) -> MovingFashion:
    """The Moving Fashion-MNIST videos that ``cfg`` describes (sparse-core's :func:`moving_fashion`).

    Args:
        cfg: data config (``num_videos``, ``num_frames``, ``image_size``, ``seed``, ``max_objects``,
            ``num_directions``, ``label_kind``, ``garments_root``).
        split: ``"train"`` or ``"test"`` (garments of Fashion-MNIST's test images: unseen in training).
        num_videos: overrides ``cfg.num_videos``.
        seed_offset: added to ``cfg.seed`` (a disjoint set of videos).
        label_kind: overrides ``cfg.label_kind`` (``"content"`` or ``"motion"``).
    """
    return moving_fashion(cfg, split, num_videos, seed_offset, label_kind)


@register_dataset(PREFIX + "moving_fashion")
def _moving_fashion(root: str | None, split: str, transform: Transform | None, cfg: DataConfig,
                    seed_offset: int = 0, num_videos: int | None = None, label_kind: str | None = None) -> Dataset:
    videos = fashion_videos(cfg, split, num_videos, seed_offset, label_kind)
    return ProceduralClipDataset(videos, transform, extra_labels=("content", "motion"))


@register_dataset(PREFIX + "procedural")
def _procedural(root: str | None, split: str, transform: Transform | None, cfg: DataConfig,
                seed_offset: int = 0) -> Dataset:
    return ProceduralClipDataset(motion_videos(cfg, seed_offset=seed_offset), transform)


@register_dataset(PREFIX + "video")
def _video(root: str | None, split: str, transform: Transform | None, cfg: DataConfig, seed_offset: int = 0) -> Dataset:
    return VideoFolderDataset(_root(cfg, root), transform, cfg.max_frames)


@register_dataset(PREFIX + "codes")
def _codes(root: str | None, split: str, transform: Transform | None, cfg: DataConfig, seed_offset: int = 0) -> Dataset:
    return CodeFolderDataset(_root(cfg, root), transform, cfg.codebook)


DATA_SOURCES = tuple(n[len(PREFIX):] for n in list_datasets(PREFIX))
"""The registered ViDROP sources."""


def build_dataset(cfg: DataConfig, transform: Transform | None = None, root: str | None = None,
                  seed_offset: int = 0, split: str = "train", **kwargs: Any) -> Dataset:
    """The dataset of ``cfg`` with ``transform`` applied to each ``(T, H, W, 3)`` uint8 video.

    Args:
        cfg: data config (``source`` picks procedural clips, raw videos through decord, or k-means codes).
        transform: e.g. :class:`~vidrop.data.views.MultiClipViews` for training (None: raw ``"video"``).
        root: overrides ``cfg.root`` (e.g. an evaluation split).
        seed_offset: added to the generator's seed (a disjoint evaluation set).
        split: ``"train"`` or ``"test"``; ``moving_fashion`` draws test videos from unseen garments, the other
            sources ignore it (their test split is ``root`` / ``seed_offset``).
        kwargs: passed to the registered builder (``moving_fashion``: ``num_videos``, ``label_kind``).

    Raises:
        sparse_core.data.DatasetError: ``cfg.source`` is not registered (the message lists the sources).
        ValueError: a file-based source without a root, or an unknown ``split``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    builder = get_dataset_builder(cfg.source, prefix=PREFIX, what="data.source")
    return builder(root=root, split=split, transform=transform, cfg=cfg, seed_offset=seed_offset, **kwargs)
