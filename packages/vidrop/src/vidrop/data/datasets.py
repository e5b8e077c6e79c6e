"""Video datasets returning multi-clip views: procedural clips, raw video folders and k-means code folders.

Folder layout (Kinetics-style): ``root/<class>/<video>.<ext>``, listed by sparse-core's
:func:`~sparse_core.data.video.list_videos` (classes sorted give the labels). A code folder
mirrors it with ``.npy`` code arrays (written by ``vidrop-compress encode``) and holds ``codebook.npz``.
A corrupt or unreadable file makes ``__getitem__`` return ``None`` and is counted in ``num_skipped``
(``sparse_core.data.collate.collate_skip_none`` counts it per batch).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from sparse_core.data.errors import DatasetError, SkipCounter
from sparse_core.data.video import MotionShapes, list_videos
from vidrop.codec import decode_torch, load_codebook
from vidrop.data.io import read_video

__all__ = ["ProceduralClipDataset", "VideoFolderDataset", "CodeFolderDataset"]

Transform = Callable[[Tensor], dict[str, Tensor]]


def _sample(video: Tensor, label: int, transform: Transform | None) -> dict[str, Any]:
    out: dict[str, Any] = dict(transform(video)) if transform is not None else {"video": video}
    out["label"] = label
    return out


class ProceduralClipDataset(Dataset):
    """sparse-core's procedural motion clips (:class:`~sparse_core.data.video.MotionShapes`) as a dataset.

    Each item is ``transform(video)`` plus ``"label"``, or ``{"video": (T, S, S, 3) uint8, "label"}``.
    """

    def __init__(self, videos: MotionShapes, transform: Transform | None = None) -> None:
        self.videos, self.transform = videos, transform
        self.num_classes = videos.num_classes

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return _sample(torch.from_numpy(self.videos.video(index)), self.videos.label(index), self.transform)


class VideoFolderDataset(SkipCounter, Dataset):
    """Raw videos decoded with decord (PyAV fallback) from ``root/<class>/<video>``."""

    def __init__(self, root: str | Path, transform: Transform | None = None, max_frames: int | None = None) -> None:
        listing = list_videos(root, layout="classes")
        self.items, self.classes = listing.items, listing.classes
        self.transform, self.max_frames = transform, max_frames
        self.num_classes = len(self.classes)
        self.num_skipped = 0

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        path, label = self.items[index]
        try:
            frames = read_video(path, self.max_frames)
        except Exception as err:
            self._skip(path, err)
            return None
        return _sample(torch.from_numpy(frames), label, self.transform)


class CodeFolderDataset(SkipCounter, Dataset):
    """k-means code arrays (``.npy``, ``(T, Hp, Wp)``) decoded by a centroid gather in the loader."""

    def __init__(self, root: str | Path, transform: Transform | None = None,
                 codebook: str | Path | None = None) -> None:
        listing = list_videos(root, layout="classes", extensions=(".npy",))
        self.items, self.classes = listing.items, listing.classes
        cb_path = Path(codebook) if codebook is not None else Path(root) / "codebook.npz"
        if not cb_path.is_file():
            raise DatasetError(f"codebook {cb_path} not found (written by `vidrop-compress fit`)")
        self.codebook = load_codebook(cb_path)
        self.centroids = torch.from_numpy(self.codebook.centroids_uint8().reshape(self.codebook.num_clusters, -1))
        self.transform = transform
        self.num_classes = len(self.classes)
        self.num_skipped = 0

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        path, label = self.items[index]
        try:
            codes = np.load(path, allow_pickle=False)
            if codes.ndim != 3 or codes.size == 0:
                raise ValueError(f"expected a (T, Hp, Wp) code array, got shape {codes.shape}")
            if int(codes.max()) >= self.codebook.num_clusters:
                raise ValueError("code index beyond the codebook")
        except Exception as err:
            self._skip(path, err)
            return None
        frames = decode_torch(torch.from_numpy(codes.astype(np.int64)), self.centroids, self.codebook.patch_size)
        return _sample(frames, label, self.transform)
