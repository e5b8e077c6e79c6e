"""Real videos for river-vp: files and frame folders (listed and decoded by sparse-core's video layer),
resized to square frames in [-1, 1] (the autoencoder's range)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor
from torch.utils.data import Dataset

from sparse_core.data.errors import SkipCounter
from sparse_core.data.video import (
    RandomFrameSampler,
    VideoNeeds,
    center_crop_resize,
    frames_to_float,
    list_videos,
    read_video,
)

__all__ = ["VideoFramesDataset", "list_river_videos", "load_video", "to_model_range"]


def list_river_videos(root: str | Path) -> list[Path]:
    """Video files and frame folders under ``root`` (recursive, sorted), or ``root`` itself if it is a file.

    Raises:
        sparse_core.data.DatasetError: ``root`` missing or holding no video.
    """
    return list_videos(root, layout="flat", frame_folders=True).paths


def to_model_range(frames: Tensor, image_size: int) -> Tensor:
    """Canonical clip -> model input: centre square crop, bilinear resize to ``image_size``, range [-1, 1].

    Shape:
        ``(T, H, W, 3)`` uint8 -> ``(T, 3, S, S)`` float32.
    """
    return center_crop_resize(frames_to_float(frames, "signed"), image_size).clamp(-1, 1)


def load_video(path: str | Path, image_size: int, max_frames: int | None = None, min_side: int = 1) -> Tensor:
    """All frames (or the first ``max_frames``) of a video file or frame folder: (T, 3, S, S) in [-1, 1].

    Only the frames kept are decoded (the first ``max_frames`` of a long video, not all of it).

    Raises:
        Exception: whatever the reader raises for a corrupt file (callers skip and count it), or
            :class:`~sparse_core.data.video.VideoTooSmall` for a side under ``min_side`` pixels.
    """
    frames = read_video(path, indices=range(max_frames) if max_frames is not None else None,
                        needs=VideoNeeds(1, min_side))
    if frames.shape[0] == 0:
        raise ValueError(f"{path} has no frames")
    return to_model_range(frames, image_size)


class VideoFramesDataset(SkipCounter, Dataset):
    """Random single frames of real videos for autoencoder training: ``{"image": (3, S, S) in [-1, 1]}``.

    Item ``i`` is a random frame (global torch RNG, seeded per sample by the engine) of video
    ``i % num_videos``; ``frames_per_video`` sets how many items each video contributes per epoch. A corrupt
    video returns ``None`` and is counted in ``num_skipped``, as a video whose shorter side is under ``min_side``
    pixels (too small: counted with that reason).
    """

    def __init__(self, root: str | Path, image_size: int, frames_per_video: int = 16, min_side: int = 1) -> None:
        self.sources = list_river_videos(root)
        self.root = Path(root)
        self.image_size, self.frames_per_video = image_size, frames_per_video
        self.needs = VideoNeeds(1, min_side)
        self.num_skipped = 0

    def __len__(self) -> int:
        return len(self.sources) * self.frames_per_video

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        path = self.sources[index % len(self.sources)]
        try:
            frames = read_video(path, sampler=RandomFrameSampler(), needs=self.needs)
        except Exception as err:  # decord / PyAV / PIL raise many error types on broken files
            self._skip(path, err)
            return None
        return {"image": to_model_range(frames, self.image_size)[0]}
