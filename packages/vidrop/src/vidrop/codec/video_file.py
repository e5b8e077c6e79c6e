"""Encoding and round-tripping one video file chunk by chunk: memory bounded whatever the video's length."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vidrop.codec.codebook import PatchCodebook
from vidrop.codec.patches import decode, encode, search_index
from vidrop.codec.quality import SquaredError
from vidrop.codec.sizes import CodeSize
from vidrop.codec.stream import CHUNK_PIXELS, VideoStream

__all__ = ["RoundTrip", "encode_file", "round_trip_file"]


def _size(stream: VideoStream, raw_rgb_bytes: int, code_bytes: int) -> CodeSize:
    """The :class:`CodeSize` of a finished stream (the file's size prorated when ``max_frames`` cut it)."""
    source: float | None = float(stream.path.stat().st_size)
    if stream.truncated:
        source = source * stream.frames_read / stream.header_frames if stream.header_frames else None
    return CodeSize(stream.frames_read, raw_rgb_bytes, code_bytes, source)


def encode_file(path: str | Path, codebook: PatchCodebook, max_frames: int | None = None,
                chunk_pixels: int = CHUNK_PIXELS, index: Any | None = None,
                on_chunk: Callable[[VideoStream], None] | None = None) -> tuple[np.ndarray, CodeSize]:
    """Encode a video file chunk by chunk (only the codes of the whole video are kept).

    Args:
        path: Video file.
        codebook: The codebook.
        max_frames: Encode the first ``max_frames`` frames only (None: all).
        chunk_pixels: Pixel budget of one decoded chunk (:class:`VideoStream`).
        index: :func:`~vidrop.codec.patches.search_index` of ``codebook`` (built here if None).
        on_chunk: Called with the stream after each chunk (progress).

    Returns:
        Codes ``(T, H // p, W // p)`` of ``codebook.index_dtype`` and their :class:`CodeSize`.

    Raises:
        Exception: :class:`VideoStream`'s errors; ``ValueError`` for frames smaller than one patch.
    """
    stream = VideoStream(path, max_frames, chunk_pixels)
    index = search_index(codebook) if index is None else index
    codes, raw = [], 0
    for chunk in stream:
        codes.append(encode(chunk, codebook, index=index))
        raw += chunk.size
        if on_chunk is not None:
            on_chunk(stream)
    out = np.concatenate(codes)
    return out, _size(stream, raw, out.nbytes)


@dataclass
class RoundTrip:
    """What :func:`round_trip_file` measured."""

    psnr_db: float
    frame_size: tuple[int, int]
    size: CodeSize
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall time of ``read`` (decoding the source), ``encode`` and ``decode``."""


def round_trip_file(path: str | Path, codebook: PatchCodebook, max_frames: int | None = None,
                    chunk_pixels: int = CHUNK_PIXELS,
                    on_chunk: Callable[[VideoStream], None] | None = None) -> RoundTrip:
    """Encode and decode a video file chunk by chunk; PSNR over every decoded pixel.

    Memory holds one chunk of frames (about ``chunk_pixels`` pixels), its patches and codes, whatever the
    video's length.

    Args:
        path: Video file.
        codebook: The codebook.
        max_frames: Round-trip the first ``max_frames`` frames only (None: all).
        chunk_pixels: Pixel budget of one decoded chunk (:class:`VideoStream`).
        on_chunk: Called with the stream after each chunk (progress).

    Raises:
        Exception: :class:`VideoStream`'s errors; ``ValueError`` for frames smaller than one patch.
    """
    stream = VideoStream(path, max_frames, chunk_pixels)
    index, table = search_index(codebook), codebook.centroids_uint8().reshape(codebook.num_clusters, -1)
    err, raw, code_bytes, hw = SquaredError(), 0, 0, (0, 0)
    seconds = {"read": 0.0, "encode": 0.0, "decode": 0.0}
    t = time.perf_counter()
    for chunk in stream:
        t0 = time.perf_counter()
        codes = encode(chunk, codebook, index=index)
        t1 = time.perf_counter()
        rec = decode(codes, codebook, table)
        t2 = time.perf_counter()
        seconds["read"] += t0 - t
        seconds["encode"] += t1 - t0
        seconds["decode"] += t2 - t1
        err.add(chunk, rec)
        raw, code_bytes, hw = raw + chunk.size, code_bytes + codes.nbytes, chunk.shape[1:3]
        if on_chunk is not None:
            on_chunk(stream)
        t = time.perf_counter()
    return RoundTrip(err.psnr(), (int(hw[0]), int(hw[1])), _size(stream, raw, code_bytes), seconds)
