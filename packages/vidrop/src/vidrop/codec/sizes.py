"""What a code array saves: its size against raw RGB frames and against the source file on disk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["FACTORS_NOTE", "CodeSize"]

FACTORS_NOTE = ("factor_vs_raw_rgb = raw RGB (uncompressed uint8) of the source frames (frames x H x W x 3 "
                "bytes) / code bytes; factor_vs_source_file = the source video file's size on disk / code bytes "
                "(below 1: the codes are larger than the already compressed source). Code bytes are the index "
                "arrays (each .npy adds a 128-byte header); the codebook (codebook_bytes), shared by every video, "
                "is not counted.")
"""How the two compression factors are defined (printed beside them)."""


@dataclass
class CodeSize:
    """Byte counts behind the two compression factors of one or more encoded videos.

    Attributes:
        frames: Frames encoded.
        raw_rgb_bytes: ``frames x H x W x 3`` of the source frames at full size (before the patch-grid crop).
        code_bytes: Bytes of the index arrays.
        source_bytes: Size of the source files on disk; for a video cut by ``max_frames`` the file's size times the
            share of its frames encoded (by its header's frame count), None when that share is unknown.
    """

    frames: int = 0
    raw_rgb_bytes: int = 0
    code_bytes: int = 0
    source_bytes: float | None = 0.0

    def __iadd__(self, other: CodeSize) -> CodeSize:
        self.frames += other.frames
        self.raw_rgb_bytes += other.raw_rgb_bytes
        self.code_bytes += other.code_bytes
        both = self.source_bytes is not None and other.source_bytes is not None
        self.source_bytes = self.source_bytes + other.source_bytes if both else None  # type: ignore[operator]
        return self

    @property
    def factor_vs_raw_rgb(self) -> float:
        """Raw uint8 RGB bytes over code bytes."""
        return self.raw_rgb_bytes / max(self.code_bytes, 1)

    @property
    def factor_vs_source_file(self) -> float | None:
        """Source file bytes over code bytes (None when unknown)."""
        return None if self.source_bytes is None else self.source_bytes / max(self.code_bytes, 1)

    def as_dict(self) -> dict[str, Any]:
        """Both factors, the byte counts and :data:`FACTORS_NOTE`, for a JSON report."""
        return {"factor_vs_raw_rgb": self.factor_vs_raw_rgb, "factor_vs_source_file": self.factor_vs_source_file,
                "raw_rgb_bytes": self.raw_rgb_bytes, "source_bytes": self.source_bytes,
                "code_bytes": self.code_bytes, "factors": FACTORS_NOTE}
