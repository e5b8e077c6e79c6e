"""Decoding selected frames of a video file (decord, PyAV fallback) or of a folder of frame images.

Frame indices are chosen by a sampler from the video's frame count, then only those frames are
decoded (decord seeks; PyAV decodes sequentially up to the last index needed). Every reader returns
the canonical clip layout of :mod:`sparse_core.data.video.layout`: ``(T, H, W, 3)`` uint8 RGB.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from sparse_core.data.video.listing import IMAGE_EXTENSIONS
from sparse_core.data.video.needs import VideoNeeds
from sparse_core.data.video.samplers import AllFrames, FrameSampler, UniformSampler

__all__ = ["Backend", "read_video"]

Backend = Literal["auto", "decord", "pyav"]


def _have(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


class _Indices:
    """Explicit frame indices as a sampler: those at or past the video's end are left out."""

    def __init__(self, indices: Sequence[int]) -> None:
        self.indices = [int(i) for i in indices]
        if not self.indices or min(self.indices) < 0:
            raise ValueError(f"frame indices must be non-negative and not empty, got {list(indices)[:8]}")
        self.num_frames = len(self.indices)
        self.last = max(self.indices)

    def __call__(self, total: int) -> list[int]:
        return [i for i in self.indices if i < total]


class _Checked:
    """A sampler that first checks the frame count against :class:`VideoNeeds` (every reader calls it)."""

    def __init__(self, sampler: FrameSampler, needs: VideoNeeds) -> None:
        self.sampler, self.needs = sampler, needs
        self.num_frames = sampler.num_frames
        self.last = getattr(sampler, "last", None)

    def __call__(self, total: int) -> list[int]:
        self.needs.check_frames(total)
        return self.sampler(total)


def _select(sampler: FrameSampler, total: int) -> list[int]:
    """The sampler's indices for a ``total``-frame video; ValueError if it selects none."""
    chosen = sampler(total)
    if not chosen:
        raise ValueError(f"no frame selected from a video of {total} frames")
    return chosen


def _read_decord(path: str, sampler: FrameSampler) -> np.ndarray:
    decord = importlib.import_module("decord")
    vr = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=1)
    total = len(vr)
    if total <= 0:
        raise ValueError("video has no frames")
    return vr.get_batch(_select(sampler, total)).asnumpy()  # (T, H, W, 3) uint8


def _read_pyav(path: str, sampler: FrameSampler) -> np.ndarray:
    av = importlib.import_module("av")
    with av.open(path) as container:
        if not container.streams.video:
            raise ValueError("no video stream (an audio-only or data-only file)")
        stream = container.streams.video[0]
        total = int(stream.frames or 0)
        if total > 0:
            indices = _select(sampler, total)
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
        decoded: list[np.ndarray] = []
        stop = sampler.last if isinstance(sampler, (_Indices, _Checked)) else None
        for i, frame in enumerate(container.decode(stream)):  # no frame count: decode up to what is needed
            decoded.append(frame.to_ndarray(format="rgb24"))
            if stop is not None and i >= stop:
                break
    if not decoded:
        raise ValueError("video has no frames")
    return np.stack([decoded[i] for i in _select(sampler, len(decoded))])


def _read_frame_folder(folder: Path, sampler: FrameSampler) -> np.ndarray:
    from sparse_core.data.image_folder import read_image  # every PIL mode at its full range (16-bit grey, ...)

    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ValueError(f"{folder} holds no frame images")
    return np.stack([read_image(files[i]).permute(1, 2, 0).numpy() for i in _select(sampler, len(files))])


def read_video(
    path: str | os.PathLike[str],
    num_frames: int | None = None,
    sampler: FrameSampler | None = None,
    backend: Backend = "auto",
    indices: Sequence[int] | None = None,
    needs: VideoNeeds | None = None,
) -> Tensor:
    """Read selected frames of a video file; only those frames are decoded into arrays.

    Args:
        path: Video file, or a folder of frame images (sorted by name; read with PIL).
        num_frames: Frames to read with a :class:`UniformSampler` if ``sampler`` is None; both None
            reads every frame.
        sampler: Chooses frame indices from the frame count.
        backend: ``"decord"``, ``"pyav"`` or ``"auto"`` (decord if importable, and PyAV if decord is
            missing or fails on the file; both are imported lazily).
        indices: Explicit frame indices to read, in order (overrides ``num_frames`` and ``sampler``); those
            at or past the video's end are left out, so ``range(16)`` reads the first 16 frames, or all
            frames of a shorter video, and decoding stops after the last index needed.
        needs: the least frames and pixels a usable video holds (checked from the frame count before
            decoding, and from the decoded size); None: any video.

    Returns:
        ``(T, H, W, 3)`` uint8 tensor.

    Raises:
        Exception: Whatever the backend raises for a missing, empty or corrupt file (decord raises
            ``DECORDError``, PyAV ``av.error.*``), or ``ValueError`` for a video without frames, a file
            without a video stream, or ``indices`` that select no frame of the video;
            :class:`~sparse_core.data.video.needs.VideoTooShort` / ``VideoTooSmall`` when ``needs`` is not met.
    """
    if needs is None:
        return _read(path, num_frames, sampler, backend, indices)
    if indices is not None:
        sampler, indices = _Indices(indices), None
    if sampler is None:
        sampler = UniformSampler(num_frames) if num_frames is not None else AllFrames()
    frames = _read(path, None, _Checked(sampler, needs), backend, None)
    needs.check_size(int(frames.shape[1]), int(frames.shape[2]))
    return frames


def _read(path: str | os.PathLike[str], num_frames: int | None, sampler: FrameSampler | None, backend: Backend,
          indices: Sequence[int] | None) -> Tensor:
    """:func:`read_video` without the needs check."""
    if indices is not None:
        sampler = _Indices(indices)
    if sampler is None:
        sampler = UniformSampler(num_frames) if num_frames is not None else AllFrames()
    if backend not in ("auto", "decord", "pyav"):
        raise ValueError(f"unknown backend {backend!r}; choose 'auto', 'decord' or 'pyav'")
    p = os.fspath(path)
    if os.path.isdir(p):
        return torch.from_numpy(_read_frame_folder(Path(p), sampler))
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
