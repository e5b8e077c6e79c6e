"""A progress line for long codec runs (tqdm on stderr; by default only when stderr is a terminal)."""

from __future__ import annotations

from typing import Any

__all__ = ["FrameProgress"]


class FrameProgress:
    """A tqdm line counting frames (and videos, when several): ``encode 3/40 videos | 1234 frames``.

    Args:
        desc: Label in front of the line.
        videos: Number of videos (None for one video: the line then counts its frames against the header's count).
        enabled: Show the line; None shows it only on a terminal (tqdm's ``disable=None``).
    """

    def __init__(self, desc: str, videos: int | None = None, enabled: bool | None = None) -> None:
        from tqdm.auto import tqdm

        self.videos = videos
        self.frames = 0
        self._seen = 0
        unit = "video" if videos is not None else "frame"
        self.bar = tqdm(total=videos, desc=desc, unit=unit, disable=None if enabled is None else not enabled,
                        dynamic_ncols=True, leave=True)

    def chunk(self, stream: Any) -> None:
        """After one chunk of ``stream`` (a :class:`~vidrop.codec.stream.VideoStream`)."""
        new = stream.frames_read - self._seen
        self._seen = stream.frames_read
        self.frames += new
        if self.videos is None:
            if self.bar.total is None and stream.expected_frames:
                self.bar.total = stream.expected_frames
            self.bar.update(new)
        else:
            self.bar.set_postfix_str(f"{self.frames} frames", refresh=False)
            self.bar.update(0)  # redraws at most every mininterval

    def video_done(self) -> None:
        """After one video (encoded or skipped)."""
        self._seen = 0
        if self.videos is not None:
            self.bar.update(1)

    def close(self) -> None:
        """End the line."""
        self.bar.close()
