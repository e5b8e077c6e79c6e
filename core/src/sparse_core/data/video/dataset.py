"""One clip per video: :class:`VideoClipDataset` (listing + sampler + decoder + transform).

Corrupt or unreadable videos are skipped (``None``, counted in ``num_skipped``; see
:mod:`sparse_core.data.errors`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchvision import tv_tensors

from sparse_core.data.errors import SkipCounter
from sparse_core.data.video.decoding import Backend, read_video
from sparse_core.data.video.listing import list_videos
from sparse_core.data.video.needs import VideoNeeds
from sparse_core.data.video.samplers import FrameSampler, make_sampler

__all__ = ["VideoClipDataset"]


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
        needs: frames and pixels a usable video holds (:class:`~sparse_core.data.video.needs.VideoNeeds`);
            default: enough frames for one clip of the ``"random"`` sampler (``clip_len`` for the others),
            any size. A video short of them is skipped and counted with the reason.

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
        needs: VideoNeeds | None = None,
    ) -> None:
        listing = list_videos(source)
        self.samples, self.classes = listing.items, listing.classes
        self.num_skipped = 0
        self.labelled = any(label >= 0 for _, label in self.samples)
        self.sampler: FrameSampler = (
            make_sampler(sampler, clip_len, stride) if isinstance(sampler, str) else sampler
        )
        self.transform = transform
        self.backend: Backend = backend
        default = VideoNeeds.for_clip(clip_len, stride if sampler == "random" else 1)
        self.needs = needs or default

    def __len__(self) -> int:
        """Number of videos."""
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        """Return ``{"video", ["label"], "path"}`` or ``None`` if the file cannot be decoded."""
        path, label = self.samples[index]
        try:
            frames = read_video(path, sampler=self.sampler, backend=self.backend, needs=self.needs)  # (T, H, W, 3)
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
