"""Writing canonical ``(T, H, W, 3)`` uint8 clips to MP4 (H.264 through PyAV) or GIF (imageio)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from torch import Tensor

__all__ = ["LabelledVideos", "write_video", "write_video_folder"]


class LabelledVideos(Protocol):
    """Indexable labelled clips (e.g. :class:`~sparse_core.data.video.procedural.MotionShapes`)."""

    classes: Sequence[str]

    def __len__(self) -> int:
        """Number of clips."""
        ...

    def video(self, index: int) -> np.ndarray:
        """Clip ``index`` as ``(T, H, W, 3)`` uint8."""
        ...

    def label(self, index: int) -> int:
        """Class of clip ``index``."""
        ...


def _write_mp4(path: Path, frames: np.ndarray, fps: int, crf: int, pix_fmt: str) -> None:
    import av

    if pix_fmt != "yuv444p":  # chroma-subsampled formats need even sides: pad with black
        frames = np.pad(frames, ((0, 0), (0, frames.shape[1] % 2), (0, frames.shape[2] % 2), (0, 0)))
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), mode="w") as container:
        stream: Any = container.add_stream(codec, rate=fps)  # a VideoStream (PyAV's stubs return a union)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = pix_fmt if codec == "libx264" else "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": str(crf)}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_video(
    path: str | os.PathLike[str],
    frames: np.ndarray | Tensor,
    fps: int = 8,
    crf: int = 10,
    pix_fmt: str = "yuv444p",
) -> Path:
    """Write a clip; the format follows the suffix (``.mp4`` or ``.gif``). Parent folders are created.

    Args:
        path: Output file, ``*.mp4`` (H.264, PyAV; MPEG-4 part 2 if this FFmpeg lacks libx264) or ``*.gif``
            (looping, imageio).
        frames: Clip in the canonical layout.
        fps: Frames per second.
        crf: H.264 constant rate factor (10: near lossless; 23: x264's default).
        pix_fmt: ``"yuv444p"`` (default: no chroma subsampling, the decoded clip stays close to the input)
            or ``"yuv420p"`` (plays everywhere; odd sides are padded by one black row / column).

    Returns:
        ``path``.

    Raises:
        ValueError: Not a ``(T, H, W, 3)`` uint8 clip, or an unknown suffix.

    Shape:
        frames ``(T, H, W, 3)`` uint8.
    """
    arr = frames.cpu().numpy() if isinstance(frames, Tensor) else np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8 or len(arr) == 0:
        raise ValueError(f"write_video expects a (T, H, W, 3) uint8 clip, got {arr.dtype} {tuple(arr.shape)}")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".mp4":
        _write_mp4(out, arr, fps, crf, pix_fmt)
    elif suffix == ".gif":
        import imageio.v2 as imageio

        imageio.mimsave(out, list(arr), duration=1000 / fps, loop=0)
    else:
        raise ValueError(f"write_video: unknown suffix {out.suffix!r} of {out}; use .mp4 or .gif")
    return out


def write_video_folder(root: str | os.PathLike[str], videos: LabelledVideos, split: str | None = None) -> list[Path]:
    """Write every clip to ``root[/split]/<class>/<index>.mp4``, the class-folder layout of the listing.

    Args:
        root: Output folder.
        videos: Labelled clips.
        split: Optional sub-folder (``"train"``, ``"val"``).

    Returns:
        The written paths, in index order.
    """
    base = Path(root) / split if split else Path(root)
    return [
        write_video(base / videos.classes[videos.label(i)] / f"{i:06d}.mp4", videos.video(i))
        for i in range(len(videos))
    ]
