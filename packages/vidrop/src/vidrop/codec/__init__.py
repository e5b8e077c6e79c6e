"""The k-means lossy video codec of ViDROP (thesis sec. 6.2.4, Tables 6.3-6.4).

A codebook of ``K`` centroids is fit with faiss k-means on ``p x p`` RGB pixel patches; a video is stored as
one cluster index per patch (``uint16`` for ``K <= 65536``) and decoded by gathering centroids.
"""

from vidrop.codec.codebook import PatchCodebook, fit_codebook, load_codebook, sample_patches
from vidrop.codec.patches import (
    compression_factor,
    decode,
    decode_torch,
    encode,
    frames_to_patches,
    patches_to_frames,
    psnr,
)

__all__ = [
    "PatchCodebook",
    "fit_codebook",
    "load_codebook",
    "sample_patches",
    "encode",
    "decode",
    "decode_torch",
    "frames_to_patches",
    "patches_to_frames",
    "psnr",
    "compression_factor",
]
