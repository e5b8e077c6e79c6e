"""The codec's quality number: PSNR of a decoded video against its source, accumulated chunk by chunk.

The squared error is summed exactly (int64) over every decoded pixel, so a video streamed in chunks gets the
same PSNR as the whole array at once; the dB value is core's :func:`sparse_core.eval.metrics.psnr_from_mse`
with ``data_range=255`` (``inf`` when lossless).
"""

from __future__ import annotations

import numpy as np

from sparse_core.eval.metrics import psnr_from_mse

__all__ = ["SquaredError", "psnr"]


class SquaredError:
    """Running sum of squared errors between source frames and their decoding.

    Decoding drops the bottom / right remainders of the patch grid, so each reference chunk is cropped to its
    reconstruction's extent.
    """

    def __init__(self) -> None:
        self.total = 0
        """Sum of squared pixel errors (exact integer)."""
        self.count = 0
        """Number of pixel values compared (frames x height x width x 3)."""

    def add(self, reference: np.ndarray, reconstruction: np.ndarray) -> None:
        """Add one chunk of frames.

        Shape:
            reference ``(T, H', W', 3)`` uint8, reconstruction ``(T, H, W, 3)`` uint8 with ``H <= H'``, ``W <= W'``.
        """
        t, h, w = reconstruction.shape[:3]
        if len(reference) != t:
            raise ValueError(f"reference has {len(reference)} frames, its reconstruction {t}")
        diff = reconstruction.astype(np.int32) - reference[:, :h, :w].astype(np.int32)
        self.total += int((diff * diff).sum(dtype=np.int64))  # each term <= 255^2 fits int32
        self.count += diff.size

    @property
    def mse(self) -> float:
        """Mean squared error per pixel value, in uint8 units squared."""
        if self.count == 0:
            raise ValueError("no frames compared")
        return self.total / self.count

    def psnr(self) -> float:
        """PSNR in dB over every pixel compared so far (``inf`` when lossless)."""
        return float(psnr_from_mse(self.mse, data_range=255.0, min_mse=0.0))


def psnr(reference: np.ndarray, reconstruction: np.ndarray) -> float:
    """PSNR in dB of a whole decoded uint8 video (one :class:`SquaredError` chunk), ``T`` frames of ``reference``.

    Shape:
        reference ``(T', H', W', 3)``, reconstruction ``(T, H, W, 3)`` with ``T <= T'``, ``H <= H'``, ``W <= W'``.
    """
    err = SquaredError()
    err.add(reference[: len(reconstruction)], reconstruction)
    return err.psnr()
