"""Video reading (decord, PyAV fallback), clip samplers and a clip dataset.

Frame indices are chosen by a sampler from the video's frame count, then only those frames are
decoded (decord seeks; PyAV decodes sequentially up to the last index needed).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchvision import tv_tensors

from sparse_core.data.errors import DatasetError, SkipCounter

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")
Backend = Literal["auto", "decord", "pyav"]


class FrameSampler(Protocol):
    """Maps a video's frame count to the frame indices to read."""

    num_frames: int

    def __call__(self, total: int) -> list[int]:
        """Return ``num_frames`` indices in ``[0, total)``."""
        ...


class UniformSampler:
    """Deterministic: ``num_frames`` frames evenly spread over the whole video (segment centres).

    Args:
        num_frames: Frames per clip ``T``.
    """

    def __init__(self, num_frames: int) -> None:
        self.num_frames = num_frames

    def __call__(self, total: int) -> list[int]:
        """Indices ``floor((i + 0.5) * total / T)`` for ``i < T``."""
        return [min(total - 1, int((i + 0.5) * total / self.num_frames)) for i in range(self.num_frames)]


class RandomClipSampler:
    """Random contiguous clip ``start + stride * i`` (VideoMAE-style dense sampling).

    The start is uniform over the positions where the clip fits; a video shorter than the clip's
    span ``(T - 1) * stride + 1`` starts at 0 and repeats its last frame.

    Args:
        num_frames: Frames per clip ``T``.
        stride: Step between sampled frames.
    """

    def __init__(self, num_frames: int, stride: int = 1) -> None:
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.num_frames = num_frames
        self.stride = stride

    def __call__(self, total: int) -> list[int]:
        """Indices of one random clip (global torch RNG)."""
        span = (self.num_frames - 1) * self.stride + 1
        start = int(torch.randint(0, total - span + 1, ()).item()) if total >= span else 0
        return [min(total - 1, start + self.stride * i) for i in range(self.num_frames)]


class SparseRandomSampler:
    """TSN-style sparse sampling: split the video into ``T`` equal segments, one random frame each.

    Args:
        num_frames: Frames per clip ``T``.
    """

    def __init__(self, num_frames: int) -> None:
        self.num_frames = num_frames

    def __call__(self, total: int) -> list[int]:
        """Sorted indices, one uniformly drawn per segment (global torch RNG)."""
        edges = np.linspace(0, total, self.num_frames + 1)
        u = torch.rand(self.num_frames).numpy()
        idx = np.floor(edges[:-1] + u * (edges[1:] - edges[:-1])).astype(int)
        return [int(min(max(i, 0), total - 1)) for i in idx]


def make_sampler(name: str, num_frames: int, stride: int = 1) -> FrameSampler:
    """Build a sampler by name: ``"uniform"``, ``"random"`` (contiguous with ``stride``) or ``"sparse"``."""
    if name == "uniform":
        return UniformSampler(num_frames)
    if name == "random":
        return RandomClipSampler(num_frames, stride)
    if name == "sparse":
        return SparseRandomSampler(num_frames)
    raise ValueError(f"unknown sampler {name!r}; choose 'uniform', 'random' or 'sparse'")


def _have(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _read_decord(path: str, sampler: FrameSampler) -> np.ndarray:
    decord = importlib.import_module("decord")
    vr = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=1)
    total = len(vr)
    if total <= 0:
        raise ValueError("video has no frames")
    return vr.get_batch(sampler(total)).asnumpy()  # (T, H, W, 3) uint8


def _read_pyav(path: str, sampler: FrameSampler) -> np.ndarray:
    av = importlib.import_module("av")
    with av.open(path) as container:
        stream = container.streams.video[0]
        total = int(stream.frames or 0)
        if total > 0:
            indices = sampler(total)
            wanted = set(indices)
            last = max(indices)
            frames: dict[int, np.ndarray] = {}
            for i, frame in enumerate(container.decode(stream)):
                if i in wanted:
                    frames[i] = frame.to_ndarray(format="rgb24")
                if i >= last:
                    break
            missing = wanted - frames.keys()
            if missing:  # the header promises frames a truncated file no longer holds
                raise ValueError(
                    f"truncated video: header says {total} frames, frame {min(missing)} cannot be decoded"
                )
            return np.stack([frames[i] for i in indices])
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    if not decoded:
        raise ValueError("video has no frames")
    return np.stack([decoded[i] for i in sampler(len(decoded))])


def read_video(
    path: str | os.PathLike[str],
    num_frames: int | None = None,
    sampler: FrameSampler | None = None,
    backend: Backend = "auto",
) -> Tensor:
    """Read selected frames of a video file.

    Args:
        path: Video file.
        num_frames: Frames to read with a :class:`UniformSampler` if ``sampler`` is None; both None
            reads every frame.
        sampler: Chooses frame indices from the frame count.
        backend: ``"decord"``, ``"pyav"`` or ``"auto"`` (decord if importable, and PyAV if decord is
            missing or fails on the file; both are imported lazily).

    Returns:
        ``(T, H, W, 3)`` uint8 tensor.

    Raises:
        Exception: Whatever the backend raises for a missing, empty or corrupt file (decord raises
            ``DECORDError``, PyAV ``av.error.*``), or ``ValueError`` for a video without frames.
    """
    if sampler is None:
        sampler = UniformSampler(num_frames) if num_frames is not None else _AllFrames()
    if backend not in ("auto", "decord", "pyav"):
        raise ValueError(f"unknown backend {backend!r}; choose 'auto', 'decord' or 'pyav'")
    p = os.fspath(path)
    if backend == "pyav" or (backend == "auto" and not _have("decord")):
        return torch.from_numpy(np.ascontiguousarray(_read_pyav(p, sampler)))
    try:
        return torch.from_numpy(np.ascontiguousarray(_read_decord(p, sampler)))
    except Exception as err:
        if backend == "decord":
            raise
        # decord rejects some files PyAV can read (e.g. widths it mis-aligns): retry with PyAV.
        try:
            return torch.from_numpy(np.ascontiguousarray(_read_pyav(p, sampler)))
        except Exception as err2:
            raise err2 from err


class _AllFrames:
    """Sampler returning every frame."""

    num_frames = -1

    def __call__(self, total: int) -> list[int]:
        return list(range(total))


def _list_videos(source: str | os.PathLike[str] | Sequence[Any]) -> tuple[list[tuple[Path, int]], list[str]]:
    """Resolve ``source`` to ``[(path, label)]`` and class names (label -1 = unlabelled)."""
    if isinstance(source, (str, os.PathLike)):
        root = Path(source)
        if not root.exists():
            raise DatasetError(
                f"VideoClipDataset: path {root} does not exist; expected a folder of videos "
                f"(root/<class>/<video>{VIDEO_EXTENSIONS[0]} or root/<video>) or a list file"
            )
        if root.is_file():  # list file: "<path> [<label>]" per line, relative paths to its folder
            entries: list[tuple[Path, int]] = []
            for line in root.read_text().splitlines():
                parts = line.strip().rsplit(maxsplit=1)
                if not parts:
                    continue
                if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                    p, label = parts[0], int(parts[1])
                else:
                    p, label = line.strip(), -1
                entries.append(((root.parent / p) if not Path(p).is_absolute() else Path(p), label))
            return entries, []
        dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if dirs:
            return [(f, i) for i, d in enumerate(dirs) for f in _video_files(d)], [d.name for d in dirs]
        return [(f, -1) for f in _video_files(root)], []
    out = []
    for item in source:
        if isinstance(item, (tuple, list)):
            out.append((Path(item[0]), int(item[1])))
        else:
            out.append((Path(item), -1))
    return out, []


def _video_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS and not p.name.startswith(".")
    )


class VideoClipDataset(SkipCounter, Dataset[Any]):
    """One clip per video and item; corrupt or unreadable videos are skipped (``None``, counted).

    Items are ``{"video": (C, T, H, W) float32, "label": int, "path": str}``. The ``"label"`` key is
    present only when labels are known (class subfolders, a list file with labels, or
    ``(path, label)`` pairs). The transform (optional) receives a ``tv_tensors.Video`` of shape
    ``(T, 3, H, W)`` uint8 (v2 transforms apply the same random parameters to every frame) and must
    return ``(T, C, H', W')``; uint8 output is scaled to [0, 1]. The result is permuted to
    ``(C, T, H', W')`` (the VideoMAE / :class:`~sparse_core.models.video_vit.VideoViT` layout).

    Args:
        source: Folder (``root/<class>/<video>`` or flat ``root/<video>``), a text file with one
            ``<path> [<label>]`` per line (paths relative to the file's folder), or a sequence of
            paths or ``(path, label)`` pairs.
        clip_len: Frames per clip ``T``.
        stride: Frame step for the ``"random"`` sampler.
        sampler: ``"random"`` (contiguous, with ``stride``), ``"uniform"``, ``"sparse"`` or a
            :class:`FrameSampler`.
        transform: Optional video transform (see above).
        backend: Reader backend, see :func:`read_video`.

    Raises:
        DatasetError: Missing path, or no video files found.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | Sequence[Any],
        clip_len: int = 16,
        stride: int = 4,
        sampler: str | FrameSampler = "random",
        transform: Callable[[Any], Any] | None = None,
        backend: Backend = "auto",
    ) -> None:
        self.samples, self.classes = _list_videos(source)
        self.num_skipped = 0
        if not self.samples:
            raise DatasetError(
                f"VideoClipDataset: no video files ({', '.join(VIDEO_EXTENSIONS)}) found in {source!s:.200}"
            )
        self.labelled = any(label >= 0 for _, label in self.samples)
        self.sampler: FrameSampler = (
            make_sampler(sampler, clip_len, stride) if isinstance(sampler, str) else sampler
        )
        self.transform = transform
        self.backend: Backend = backend

    def __len__(self) -> int:
        """Number of videos."""
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        """Return ``{"video", ["label"], "path"}`` or ``None`` if the file cannot be decoded."""
        path, label = self.samples[index]
        try:
            frames = read_video(path, sampler=self.sampler, backend=self.backend)  # (T, H, W, 3)
        except Exception as err:  # decord / PyAV raise many error types on broken files
            self._skip(path, err)
            return None
        video: Tensor = tv_tensors.Video(frames.permute(0, 3, 1, 2))  # (T, 3, H, W) uint8
        if self.transform is not None:
            video = self.transform(video)
        video = video.as_subclass(Tensor)
        if video.dtype == torch.uint8:
            video = video.to(torch.float32) / 255.0
        out: dict[str, Any] = {"video": video.permute(1, 0, 2, 3).contiguous(), "path": str(path)}
        if self.labelled:
            out["label"] = label
        return out
