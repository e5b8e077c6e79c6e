"""Video datasets returning multi-clip views: generated clips, raw video folders and k-means code folders.

Folder layout: Kinetics-style class folders ``root/<class>/<video>.<ext>`` (classes sorted give the labels), a
flat folder, a single video or a list file, listed by sparse-core's :func:`~sparse_core.data.video.list_videos`
(training needs no labels; evaluation refuses unlabelled data). A code folder
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
from sparse_core.data.video import VIDEO_EXTENSIONS, VideoNeeds, list_videos
from vidrop.codec import decode_torch, load_codebook
from vidrop.data.io import read_video

__all__ = ["ProceduralClipDataset", "VideoFolderDataset", "CodeFolderDataset"]

Transform = Callable[[Tensor], dict[str, Tensor]]


def _sample(video: Tensor, label: int, transform: Transform | None) -> dict[str, Any]:
    out: dict[str, Any] = dict(transform(video)) if transform is not None else {"video": video}
    out["label"] = label
    return out


class ProceduralClipDataset(Dataset):
    """Generated videos (sparse-core's :class:`~sparse_core.data.video.MotionShapes` or
    :class:`~sparse_core.data.video.MovingFashion`) as a dataset.

    Each item is ``transform(video)`` (or ``{"video": (T, S, S, 3) uint8}``) plus ``"label"`` and one int per
    name in ``extra_labels`` (a method of ``videos``, e.g. MovingFashion's ``"content"`` and ``"motion"``).

    Args:
        videos: anything with ``__len__``, ``video(i) -> (T, S, S, 3) uint8 array``, ``label(i)`` and
            ``num_classes``.
        transform: e.g. :class:`~vidrop.data.views.MultiClipViews` (None: the raw ``"video"``).
        extra_labels: further per-video labels to return, each read from ``getattr(videos, name)(i)``.
    """

    def __init__(self, videos: Any, transform: Transform | None = None, extra_labels: tuple[str, ...] = ()) -> None:
        self.videos, self.transform, self.extra_labels = videos, transform, tuple(extra_labels)
        self.num_classes = videos.num_classes

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> dict[str, Any]:
        out = _sample(torch.from_numpy(self.videos.video(index)), self.videos.label(index), self.transform)
        for name in self.extra_labels:
            out[name] = int(getattr(self.videos, name)(index))
        return out


class _ClassFolderDataset(SkipCounter, Dataset):
    """Files listed as ``root/<class>/<file>`` (labels from the sorted class names), one clip per file.

    Subclasses say how one file is read (:meth:`_read`, where any exception skips the sample) and turned into
    ``(T, H, W, 3)`` uint8 frames (:meth:`_frames`).
    """

    def __init__(self, root: str | Path, transform: Transform | None,
                 extensions: tuple[str, ...] = VIDEO_EXTENSIONS) -> None:
        listing = list_videos(root, layout="auto", extensions=extensions)  # class folders, flat, one file, list
        self.root = Path(root)
        self.items, self.classes = listing.items, listing.classes
        self.transform = transform
        self.num_classes = len(self.classes)
        self.num_skipped = 0

    def __len__(self) -> int:
        return len(self.items)

    def _read(self, path: Path) -> np.ndarray:
        raise NotImplementedError

    def _frames(self, data: np.ndarray) -> Tensor:
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        path, label = self.items[index]
        try:
            data = self._read(path)
        except Exception as err:
            self._skip(path, err)
            return None
        return _sample(self._frames(data), label, self.transform)


class VideoFolderDataset(_ClassFolderDataset):
    """Raw videos decoded with decord (PyAV fallback) from ``root/<class>/<video>``.

    A video too short or too small for the transform's clips (its ``needs``, e.g.
    :attr:`~vidrop.data.views.MultiClipViews.needs`) is skipped and counted with that reason.
    """

    def __init__(self, root: str | Path, transform: Transform | None = None, max_frames: int | None = None) -> None:
        super().__init__(root, transform)
        self.max_frames = max_frames
        self.needs: VideoNeeds | None = getattr(transform, "needs", None)

    def _read(self, path: Path) -> np.ndarray:
        return read_video(path, self.max_frames, self.needs)

    def _frames(self, data: np.ndarray) -> Tensor:
        return torch.from_numpy(data)


class CodeFolderDataset(_ClassFolderDataset):
    """k-means code arrays (``.npy``, ``(T, Hp, Wp)``) decoded by a centroid gather in the loader."""

    def __init__(self, root: str | Path, transform: Transform | None = None,
                 codebook: str | Path | None = None) -> None:
        super().__init__(root, transform, extensions=(".npy",))
        cb_path = Path(codebook) if codebook is not None else Path(root) / "codebook.npz"
        if not cb_path.is_file():
            raise DatasetError(f"codebook {cb_path} not found (written by `vidrop-compress fit`)")
        self.codebook = load_codebook(cb_path)
        self.centroids = torch.from_numpy(self.codebook.centroids_uint8().reshape(self.codebook.num_clusters, -1))

    def _read(self, path: Path) -> np.ndarray:
        codes = np.load(path, allow_pickle=False)
        if codes.ndim != 3 or codes.size == 0:
            raise ValueError(f"expected a (T, Hp, Wp) code array, got shape {codes.shape}")
        if int(codes.max()) >= self.codebook.num_clusters:
            raise ValueError("code index beyond the codebook")
        return codes

    def _frames(self, data: np.ndarray) -> Tensor:
        return decode_torch(torch.from_numpy(data.astype(np.int64)), self.centroids, self.codebook.patch_size)
