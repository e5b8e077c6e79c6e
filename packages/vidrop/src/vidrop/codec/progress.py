"""The codec's progress line: core's :class:`sparse_core.engine.progress.Progress` counting videos, or the frames
of a single video (a tqdm bar on a terminal, a line every ~5 % otherwise)."""

from __future__ import annotations

from typing import Any

from sparse_core.engine.progress import Progress

__all__ = ["FrameProgress"]


class FrameProgress:
    """Progress of an encode: ``encode: 3/40 video (8%), ..., frames=1234``, or for one video its frames.

    Args:
        desc: Label of the line.
        videos: Number of videos; None (or 1) counts the frames of the one video against its header's count
            (no line when the header does not say).
        mode: ``"auto"``, True or False, as core's :class:`~sparse_core.engine.progress.Progress`.
    """

    def __init__(self, desc: str, videos: int | None = None, mode: bool | str = "auto") -> None:
        self.desc, self.mode = desc, mode
        self.per_video = videos is not None and videos > 1
        self.frames = 0
        self._seen = 0
        self._progress: Progress | None = Progress(videos, mode=mode, desc=desc, unit="video") if self.per_video \
            else None

    def chunk(self, stream: Any) -> None:
        """After one chunk of ``stream`` (a :class:`~vidrop.codec.stream.VideoStream`)."""
        new = stream.frames_read - self._seen
        self._seen = stream.frames_read
        self.frames += new
        if self.per_video:
            return
        if self._progress is None and stream.expected_frames:
            self._progress = Progress(stream.expected_frames, mode=self.mode, desc=self.desc, unit="frame")
        if self._progress is not None:
            for _ in range(new):  # one update per frame: lines mode prints on exact multiples of its interval
                self._progress.update(1)

    def video_done(self) -> None:
        """After one video (encoded or skipped)."""
        self._seen = 0
        if self.per_video and self._progress is not None:
            self._progress.update(1, frames=self.frames)

    def close(self) -> None:
        """End the line."""
        if self._progress is not None:
            self._progress.close()
