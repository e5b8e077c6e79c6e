"""Decoding selected frames of a video file (decord, PyAV fallback) or of a folder of frame images.

Frame indices are chosen by a sampler from the video's frame count, then only those frames are
decoded (decord seeks; PyAV decodes sequentially up to the last index needed). Every reader returns
the canonical clip layout of :mod:`sparse_core.data.video.layout`: ``(T, H, W, 3)`` uint8 RGB.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from sparse_core.data.video.listing import IMAGE_EXTENSIONS
from sparse_core.data.video.samplers import AllFrames, FrameSampler, UniformSampler

__all__ = ["Backend", "read_video"]

Backend = Literal["auto", "decord", "pyav"]


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


def _read_frame_folder(folder: Path, sampler: FrameSampler) -> np.ndarray:
    from PIL import Image

    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ValueError(f"{folder} holds no frame images")
    return np.stack([np.asarray(Image.open(files[i]).convert("RGB")) for i in sampler(len(files))])


def read_video(
    path: str | os.PathLike[str],
    num_frames: int | None = None,
    sampler: FrameSampler | None = None,
    backend: Backend = "auto",
) -> Tensor:
    """Read selected frames of a video file.

    Args:
        path: Video file, or a folder of frame images (sorted by name; read with PIL).
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
