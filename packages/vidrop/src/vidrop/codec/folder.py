"""Fitting a codebook on, and encoding, a whole ``root/<class>/<video>`` folder (what ``vidrop-compress`` runs)."""

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
from vidrop.codec.patches import encode, frames_to_patches
from vidrop.data.io import read_video

__all__ = ["EncodeReport", "fit_folder", "encode_folder"]

log = logging.getLogger("vidrop.codec")


@dataclass
class EncodeReport:
    """What :func:`encode_folder` did."""

    encoded: int = 0
    skipped: list[str] = field(default_factory=list)
    raw_bytes: int = 0
    code_bytes: int = 0
    seconds: float = 0.0

    @property
    def ratio(self) -> float:
        """Raw uint8 pixels (of the encoded area) over code bytes."""
        return self.raw_bytes / max(self.code_bytes, 1)


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
    """Sample ``patches_per_video`` patches from each usable video under ``root`` and fit the codebook.

    Args:
        skipped: Filled with the videos that could not be used (unreadable, or smaller than one patch).

    Raises:
        DatasetError: No video under ``root`` is usable.
    """
    items = list_videos(root, layout="classes").items
    rng = np.random.default_rng(seed)
    skipped = [] if skipped is None else skipped
    chunks = []
    for path, _label in items:
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
                  max_frames: int | None = None) -> EncodeReport:
    """Encode every video of ``src/<class>/`` to ``dst/<class>/<stem>.npy``; copy the codebook to ``dst``.

    Unusable videos (unreadable, or smaller than one patch) are skipped, logged and listed in the report.
    Every file is written atomically (temporary file + rename), the codebook first, so an interrupted run
    leaves whole code files next to their codebook, never a torn one.

    Raises:
        DatasetError: No video of ``src`` is usable (nothing is written).
    """
    src, dst = Path(src), Path(dst)
    items = list_videos(src, layout="classes").items
    report = EncodeReport()
    t0 = time.perf_counter()
    codebook_written = False
    for path, _label in items:
        frames = _frames_or_skip(path, max_frames, codebook.patch_size, "encode", report.skipped)
        if frames is None:
            continue
        if not codebook_written:
            _write_codebook(dst, codebook, codebook_path)
            codebook_written = True
        codes = encode(frames, codebook)
        _atomic_write(dst / path.parent.name / f"{path.stem}.npy", lambda fh, c=codes: np.save(fh, c))
        p = codebook.patch_size
        report.encoded += 1
        report.raw_bytes += codes.size * p * p * 3
        report.code_bytes += codes.nbytes
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
