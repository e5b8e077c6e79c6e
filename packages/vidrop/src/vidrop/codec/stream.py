"""Reading a video file chunk by chunk, so the codec's memory does not grow with the video's length.

PyAV decodes frames in order; at most ``frames_per_chunk`` RGB frames are held at once (sized from a pixel
budget, about 1 M pixels by default: two 768 x 576 frames).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = ["CHUNK_PIXELS", "VideoStream"]

CHUNK_PIXELS = 1 << 20
"""Default pixel budget of one chunk (frames x height x width)."""


class VideoStream:
    """The frames of one video file in chunks of ``(t, H, W, 3)`` uint8, in order.

    Args:
        path: Video file (anything PyAV / FFmpeg decodes).
        max_frames: Stop after this many frames (the first ones); None reads all.
        chunk_pixels: Pixel budget of one chunk; a chunk holds ``max(1, chunk_pixels // (H * W))`` frames.

    Attributes:
        header_frames: Frames the container's header announces for the whole file (None if it does not say);
            known once iteration has started.
        frames_read: Frames yielded so far.
        truncated: ``max_frames`` stopped the stream before the file's end.

    Raises:
        Exception: PyAV's error for a missing, corrupt or truncated file (also mid-stream); ``ValueError`` for a
            file without a video stream or without frames.
    """

    def __init__(self, path: str | Path, max_frames: int | None = None, chunk_pixels: int = CHUNK_PIXELS) -> None:
        self.path = Path(path)
        self.max_frames = max_frames
        self.chunk_pixels = chunk_pixels
        self.header_frames: int | None = None
        self.frames_read = 0
        self.truncated = False

    @property
    def expected_frames(self) -> int | None:
        """Frames this stream will yield as far as the header says (``max_frames`` caps it), None if unknown."""
        if self.header_frames is None:
            return self.max_frames
        return self.header_frames if self.max_frames is None else min(self.header_frames, self.max_frames)

    def __iter__(self) -> Iterator[np.ndarray]:
        import av

        self.frames_read, self.truncated = 0, False
        with av.open(str(self.path)) as container:
            if not container.streams.video:
                raise ValueError(f"{self.path}: no video stream (an audio-only or data-only file)")
            stream = container.streams.video[0]
            self.header_frames = int(stream.frames or 0) or None
            buf: list[np.ndarray] = []
            per_chunk = 1
            for frame in container.decode(stream):
                if self.max_frames is not None and self.frames_read + len(buf) >= self.max_frames:
                    self.truncated = True
                    break
                rgb = frame.to_ndarray(format="rgb24")  # (H, W, 3) uint8
                if not buf:
                    per_chunk = max(1, self.chunk_pixels // (rgb.shape[0] * rgb.shape[1]))
                buf.append(rgb)
                if len(buf) >= per_chunk:
                    yield self._flush(buf)
            if buf:
                yield self._flush(buf)
        if self.frames_read == 0:
            raise ValueError(f"{self.path}: no frames decoded")

    def _flush(self, buf: list[np.ndarray]) -> np.ndarray:
        chunk = np.stack(buf)
        buf.clear()
        self.frames_read += len(chunk)
        return chunk
