"""Fitting a codebook on, and encoding, a whole ``root/<class>/<video>`` folder (what ``vidrop-compress`` runs)."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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


def fit_folder(root: str | Path, patch_size: int = 10, num_clusters: int = 65536, patches_per_video: int = 2000,
               max_frames: int | None = 64, niter: int = 20, seed: int = 0, gpu: bool = False) -> PatchCodebook:
    """Sample ``patches_per_video`` patches from each readable video under ``root`` and fit the codebook."""
    items = list_videos(root, layout="classes").items
    rng = np.random.default_rng(seed)
    chunks = []
    for path, _label in items:
        try:
            frames = read_video(path, max_frames)
        except Exception as err:  # corrupt video: skip it, keep fitting
            log.warning("fit: skipping unreadable %s (%s)", path, err)
            continue
        p = frames_to_patches(frames, patch_size).reshape(-1, patch_size * patch_size * 3)
        chunks.append(p[rng.choice(len(p), size=min(len(p), patches_per_video), replace=False)])
    if not chunks:
        raise ValueError(f"no readable video under {root}")
    return fit_codebook(np.concatenate(chunks), num_clusters, patch_size, niter=niter, seed=seed, gpu=gpu)


def encode_folder(src: str | Path, dst: str | Path, codebook: PatchCodebook, codebook_path: str | Path | None = None,
                  max_frames: int | None = None) -> EncodeReport:
    """Encode every video of ``src/<class>/`` to ``dst/<class>/<stem>.npy``; copy the codebook to ``dst``.

    Unreadable videos are skipped and listed in the report (and logged).
    """
    src, dst = Path(src), Path(dst)
    items = list_videos(src, layout="classes").items
    report = EncodeReport()
    t0 = time.perf_counter()
    for path, _label in items:
        try:
            frames = read_video(path, max_frames)
        except Exception as err:
            log.warning("encode: skipping unreadable %s (%s)", path, err)
            report.skipped.append(str(path))
            continue
        codes = encode(frames, codebook)
        out = dst / path.parent.name / f"{path.stem}.npy"
        out.parent.mkdir(parents=True, exist_ok=True)
        np.save(out, codes)
        p = codebook.patch_size
        report.encoded += 1
        report.raw_bytes += codes.size * p * p * 3
        report.code_bytes += codes.nbytes
    report.seconds = time.perf_counter() - t0
    dst.mkdir(parents=True, exist_ok=True)
    if codebook_path is not None and Path(codebook_path).resolve() != (dst / "codebook.npz").resolve():
        shutil.copyfile(codebook_path, dst / "codebook.npz")
    elif codebook_path is None:
        codebook.save(dst / "codebook.npz")
    return report
