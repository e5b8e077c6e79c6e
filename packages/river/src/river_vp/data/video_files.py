"""Real videos for river-vp: video files (mp4/avi/webm/... through
sparse_core's decord/PyAV reader) and folders
of frame images, resized to square frames in [-1, 1]."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from sparse_core.data.errors import DatasetError, SkipCounter
from sparse_core.data.video import VIDEO_EXTENSIONS, read_video

__all__ = ["IMAGE_EXTENSIONS", "VideoFramesDataset", "list_video_sources", "load_video", "to_model_range"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
log = logging.getLogger("river_vp.data")


def _is_frame_folder(p: Path) -> bool:
    return p.is_dir() and any(f.suffix.lower() in IMAGE_EXTENSIONS for f in p.iterdir())


def list_video_sources(root: str | Path) -> list[Path]:
    """Video files and frame folders under ``root`` (recursive, sorted).

    Raises:
        DatasetError: ``root`` missing or holding no video.
    """
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"video folder {root} does not exist")
    if root.is_file():
        return [root]
    out = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS]
    out += [p for p in [root, *root.rglob("*")] if _is_frame_folder(p)]
    if not out:
        raise DatasetError(
            f"no videos ({', '.join(VIDEO_EXTENSIONS)}) or frame folders ({', '.join(IMAGE_EXTENSIONS)})"
            f" found under {root}"
        )
    return sorted(set(out))


def to_model_range(frames: Tensor, image_size: int) -> Tensor:
    """uint8 (T, H, W, 3) -> float (T, 3, S, S) in [-1, 1]: centre square crop, then bilinear resize to S."""
    x = frames.permute(0, 3, 1, 2).float() / 127.5 - 1.0
    h, w = x.shape[-2:]
    s = min(h, w)
    x = x[..., (h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    if s != image_size:
        x = F.interpolate(
            x, size=(image_size, image_size), mode="bilinear", antialias=True, align_corners=False
        )
    return x.clamp(-1, 1)


def _read_frame_folder(folder: Path, indices: list[int] | None) -> Tensor:
    from PIL import Image

    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
    if indices is not None:
        files = [files[i] for i in indices]
    return torch.from_numpy(np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]))


def load_video(path: str | Path, image_size: int, max_frames: int | None = None) -> Tensor:
    """All frames (or the first ``max_frames``) of a video file or frame folder: (T, 3, S, S) in [-1, 1].

    Raises:
        Exception: whatever the reader raises for a corrupt file (callers skip and count it).
    """
    path = Path(path)
    if path.is_dir():
        frames = _read_frame_folder(path, None)
    else:
        frames = read_video(path)
    if frames.shape[0] == 0:
        raise ValueError(f"{path} has no frames")
    if max_frames is not None:
        frames = frames[:max_frames]
    return to_model_range(frames, image_size)


class _OneFrame:
    num_frames = 1

    def __call__(self, total: int) -> list[int]:
        return [int(torch.randint(0, total, (1,)).item())]


class VideoFramesDataset(SkipCounter, Dataset):
    """Random single frames of real videos for autoencoder training: ``{"image": (3, S, S) in [-1, 1]}``.

    Item ``i`` is a random frame (global torch RNG, seeded per sample by the engine) of video
    ``i % num_videos``; ``frames_per_video`` sets how many items each video contributes per epoch. A corrupt
    video returns ``None`` and is counted in ``num_skipped``.
    """

    def __init__(self, root: str | Path, image_size: int, frames_per_video: int = 16) -> None:
        self.sources = list_video_sources(root)
        self.image_size, self.frames_per_video = image_size, frames_per_video
        self.num_skipped = 0

    def __len__(self) -> int:
        return len(self.sources) * self.frames_per_video

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        path = self.sources[index % len(self.sources)]
        try:
            if path.is_dir():
                n = sum(1 for f in path.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
                frames = _read_frame_folder(path, _OneFrame()(n))
            else:
                frames = read_video(path, sampler=_OneFrame())
        except Exception as err:  # decord / PyAV / PIL raise many error types on broken files
            self._skip(path, err)
            return None
        return {"image": to_model_range(frames, self.image_size)[0]}
