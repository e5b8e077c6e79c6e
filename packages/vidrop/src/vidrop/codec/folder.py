"""Fitting a codebook on, and encoding, a set of videos (what ``vidrop-compress`` runs).

A source is anything :func:`sparse_core.data.video.list_videos` lists: class folders ``root/<class>/<video>``,
a flat folder of videos, one video file, or a list file. Codes mirror the source's paths under the output folder.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sparse_core.data.errors import DatasetError
from sparse_core.data.video import list_videos
from vidrop.codec.codebook import PatchCodebook, fit_codebook
from vidrop.codec.grid import frames_to_patches
from vidrop.codec.patches import search_index
from vidrop.codec.progress import FrameProgress
from vidrop.codec.sizes import CodeSize
from vidrop.codec.stream import CHUNK_PIXELS
from vidrop.codec.video_file import encode_file
from vidrop.data.io import read_video

__all__ = ["EncodeReport", "code_path", "fit_folder", "encode_folder", "list_sources"]

log = logging.getLogger("vidrop.codec")


@dataclass
class EncodeReport:
    """What :func:`encode_folder` did."""

    encoded: int = 0
    skipped: list[str] = field(default_factory=list)
    size: CodeSize = field(default_factory=CodeSize)
    seconds: float = 0.0

    @property
    def ratio(self) -> float:
        """Raw uint8 RGB bytes of the encoded frames over code bytes (:attr:`CodeSize.factor_vs_raw_rgb`)."""
        return self.size.factor_vs_raw_rgb


def list_sources(src: str | Path) -> list[Path]:
    """The videos of ``src``: class folders, a flat folder, one video file or a list file (core's listing).

    Raises:
        DatasetError: ``src`` does not exist or holds no video.
    """
    return list_videos(src, layout="auto").paths


def code_path(src: str | Path, video: Path, dst: str | Path) -> Path:
    """Where :func:`encode_folder` writes the codes of ``video``: its path relative to the folder ``src`` (or to a
    single file's / list file's folder) under ``dst``, with ``.npy``; a video outside that folder goes to
    ``dst/<stem>.npy``."""
    src = Path(src)
    base = src if src.is_dir() else src.parent
    try:  # absolute, symlinks kept: a linked video keeps its place in the source's tree
        rel = Path(os.path.abspath(video)).relative_to(os.path.abspath(base))
    except ValueError:
        rel = Path(video.name)
    return Path(dst) / rel.with_suffix(".npy")


def _atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    """Write ``path`` through a temporary file beside it and ``os.replace``: a kill leaves no partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _frames_or_skip(path: Path, max_frames: int | None, patch_size: int, what: str,
                    skipped: list[str]) -> np.ndarray | None:
    """The video's ``(T, H, W, 3)`` uint8 frames, or None (logged, appended to ``skipped``) for a file that
    cannot be read or is smaller than one ``patch_size`` patch."""
    try:
        frames = read_video(path, max_frames)
    except Exception as err:  # corrupt, empty, audio-only: skip it, keep going
        log.warning("%s: skipping unreadable %s (%s: %s)", what, path, type(err).__name__, err)
        skipped.append(str(path))
        return None
    h, w = frames.shape[1:3]
    if h < patch_size or w < patch_size:
        log.warning("%s: skipping %s: its %dx%d frames are smaller than one %dx%d patch", what, path, h, w,
                    patch_size, patch_size)
        skipped.append(str(path))
        return None
    return frames


def fit_folder(root: str | Path, patch_size: int = 10, num_clusters: int = 65536, patches_per_video: int = 2000,
               max_frames: int | None = 64, niter: int = 20, seed: int = 0, gpu: bool = False,
               skipped: list[str] | None = None) -> PatchCodebook:
    """Sample ``patches_per_video`` patches from each usable video of ``root`` and fit the codebook.

    Args:
        root: Class folders, a flat folder, one video file or a list file (:func:`list_sources`).
        skipped: Filled with the videos that could not be used (unreadable, or smaller than one patch).

    Raises:
        DatasetError: No video under ``root`` is usable.
    """
    paths = list_sources(root)
    rng = np.random.default_rng(seed)
    skipped = [] if skipped is None else skipped
    chunks = []
    for path in paths:
        frames = _frames_or_skip(path, max_frames, patch_size, "fit", skipped)
        if frames is None:
            continue
        p = frames_to_patches(frames, patch_size).reshape(-1, patch_size * patch_size * 3)
        chunks.append(p[rng.choice(len(p), size=min(len(p), patches_per_video), replace=False)])
    if not chunks:
        raise DatasetError(f"no usable video under {root}: all {len(skipped)} skipped "
                           f"(unreadable or smaller than one {patch_size}x{patch_size} patch), e.g. {skipped[:3]}")
    return fit_codebook(np.concatenate(chunks), num_clusters, patch_size, niter=niter, seed=seed, gpu=gpu)


def encode_folder(src: str | Path, dst: str | Path, codebook: PatchCodebook, codebook_path: str | Path | None = None,
                  max_frames: int | None = None, chunk_pixels: int = CHUNK_PIXELS,
                  progress: bool | str = "auto") -> EncodeReport:
    """Encode every video of ``src`` to ``dst/<its path under src>.npy`` (:func:`code_path`); copy the codebook to
    ``dst``.

    ``src`` is class folders, a flat folder, one video file or a list file (:func:`list_sources`). Each video is
    decoded chunk by chunk (memory bounded whatever its length); a progress line counts videos (the frames of
    a single video).
    Unusable videos (unreadable, or smaller than one patch) are skipped, logged and listed in the report.
    Every file is written atomically (temporary file + rename), the codebook first, so an interrupted run
    leaves whole code files next to their codebook, never a torn one.

    Args:
        max_frames: Encode the first ``max_frames`` frames of each video (None: all).
        chunk_pixels: Pixel budget of one decoded chunk (:class:`~vidrop.codec.stream.VideoStream`).
        progress: The progress line: ``"auto"`` (a bar on a terminal, else a line every ~5 %), True (bar) or
            False (core's :class:`~sparse_core.engine.progress.Progress`).

    Raises:
        DatasetError: No video of ``src`` is usable (nothing is written).
    """
    src, dst = Path(src), Path(dst)
    paths = list_sources(src)
    report = EncodeReport()
    t0 = time.perf_counter()
    codebook_written = False
    index = search_index(codebook)
    bar = FrameProgress("encode", videos=len(paths), mode=progress)
    try:
        for path in paths:
            try:
                codes, size = encode_file(path, codebook, max_frames, chunk_pixels, index, on_chunk=bar.chunk)
            except Exception as err:  # corrupt, empty, audio-only, smaller than a patch: skip it, keep going
                log.warning("encode: skipping %s (%s: %s)", path, type(err).__name__, err)
                report.skipped.append(str(path))
                continue
            finally:
                bar.video_done()
            if not codebook_written:
                _write_codebook(dst, codebook, codebook_path)
                codebook_written = True
            _atomic_write(code_path(src, path, dst), lambda fh, c=codes: np.save(fh, c))
            report.encoded += 1
            report.size += size
    finally:
        bar.close()
    report.seconds = time.perf_counter() - t0
    if not report.encoded:
        raise DatasetError(f"no usable video under {src}: all {len(report.skipped)} skipped (unreadable or "
                           f"smaller than one {codebook.patch_size}x{codebook.patch_size} patch), "
                           f"e.g. {report.skipped[:3]}")
    return report


def _write_codebook(dst: Path, codebook: PatchCodebook, codebook_path: str | Path | None) -> None:
    """Put ``codebook.npz`` into ``dst`` atomically (a copy of ``codebook_path`` when given)."""
    target = dst / "codebook.npz"
    if codebook_path is not None and Path(codebook_path).resolve() == target.resolve():
        return
    if codebook_path is not None:
        with open(codebook_path, "rb") as src_fh:
            data = src_fh.read()
        _atomic_write(target, lambda fh: fh.write(data))
    else:
        _atomic_write(target, lambda fh: np.savez(fh, centroids=codebook.centroids,
                                                  patch_size=np.int64(codebook.patch_size)))
