"""The k-means lossy video codec of ViDROP (thesis sec. 6.2.4, Tables 6.3-6.4).

A codebook of ``K`` centroids is fit with faiss k-means on ``p x p`` RGB pixel patches; a video is stored as
one cluster index per patch (``uint16`` for ``K <= 65536``) and decoded by gathering centroids. Files are read
chunk by chunk (:mod:`~vidrop.codec.stream`), so encoding and round-tripping a video takes bounded memory.

Modules: :mod:`~vidrop.codec.grid` (the patch grid), :mod:`~vidrop.codec.codebook` (fitting, storing),
:mod:`~vidrop.codec.patches` (encode / decode arrays), :mod:`~vidrop.codec.quality` (PSNR, on core's),
:mod:`~vidrop.codec.sizes` (the two compression factors), :mod:`~vidrop.codec.video_file` (one file, streamed),
:mod:`~vidrop.codec.folder` (a set of videos), :mod:`~vidrop.codec.progress` (the progress line).
"""

from vidrop.codec.codebook import PatchCodebook, fit_codebook, load_codebook, sample_patches
from vidrop.codec.grid import frames_to_patches, patches_to_frames
from vidrop.codec.patches import compression_factor, decode, decode_torch, encode, search_index
from vidrop.codec.quality import SquaredError, psnr
from vidrop.codec.sizes import CodeSize
from vidrop.codec.stream import VideoStream
from vidrop.codec.video_file import RoundTrip, encode_file, round_trip_file

__all__ = [
    "CodeSize",
    "PatchCodebook",
    "RoundTrip",
    "SquaredError",
    "VideoStream",
    "fit_codebook",
    "load_codebook",
    "sample_patches",
    "search_index",
    "encode",
    "encode_file",
    "decode",
    "decode_torch",
    "frames_to_patches",
    "patches_to_frames",
    "psnr",
    "round_trip_file",
    "compression_factor",
]
