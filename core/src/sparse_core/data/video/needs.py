"""What a video must hold to be usable by a model: enough frames for a clip, enough pixels for a patch.

A video that decodes but is too short for the clip a trainer cuts (2 frames for 8 frames at stride 2) or too
small for one patch / tubelet of its encoder (4 x 4 pixels under 8-pixel patches) would otherwise be looped
or upsampled into a clip that carries nothing of the file. Readers check :class:`VideoNeeds` after decoding
and raise :class:`VideoTooShort` / :class:`VideoTooSmall`; a dataset's skip bookkeeping
(:class:`~sparse_core.data.errors.SkipCounter`) counts the file with that reason, and the probe before
training (:func:`~sparse_core.data.probe.probe_dataset`) names the reason when no file is usable.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UnusableVideo", "VideoNeeds", "VideoTooShort", "VideoTooSmall"]


class UnusableVideo(ValueError):
    """A video that decodes but cannot give the clip a model needs (the reason is in the message)."""


class VideoTooShort(UnusableVideo):
    """Fewer frames than one clip spans."""


class VideoTooSmall(UnusableVideo):
    """A side shorter than one patch (or tubelet) of the encoder."""


@dataclass(frozen=True)
class VideoNeeds:
    """The least a video must hold: ``min_frames`` frames and ``min_side`` pixels on its shorter side.

    Attributes:
        min_frames: frames one clip spans, ``(T - 1) * stride + 1`` (1: any video).
        min_side: the encoder's patch (or tubelet) side in pixels (1: any size).
        clip: how the clip is described in the message, e.g. ``"8 frames at stride 2"``.
    """

    min_frames: int = 1
    min_side: int = 1
    clip: str = ""

    @classmethod
    def for_clip(cls, num_frames: int, stride: int = 1, min_side: int = 1) -> VideoNeeds:
        """Needs of a clip of ``num_frames`` frames ``stride`` apart, encoded in ``min_side``-pixel patches."""
        return cls((num_frames - 1) * stride + 1, min_side, f"{num_frames} frames at stride {stride}")

    def check_frames(self, total: int) -> None:
        """Raise :class:`VideoTooShort` when a ``total``-frame video cannot hold one clip."""
        if total < self.min_frames:
            clip = f" ({self.clip})" if self.clip else ""
            raise VideoTooShort(f"too short: {total} frame(s), a clip{clip} spans {self.min_frames}")

    def check_size(self, height: int, width: int) -> None:
        """Raise :class:`VideoTooSmall` when a ``height x width`` video is smaller than one patch."""
        if min(height, width) < self.min_side:
            raise VideoTooSmall(f"too small: {height}x{width} px, smaller than one {self.min_side}-px patch")

    def check(self, total: int, height: int, width: int) -> None:
        """Both checks: frames first, then size."""
        self.check_frames(total)
        self.check_size(height, width)
