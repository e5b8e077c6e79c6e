"""Encoding videos to cluster indices, decoding by centroid gather, and the codec's quality numbers."""

from __future__ import annotations

import numpy as np
import torch
from einops import rearrange

from sparse_core.eval.metrics import psnr as image_psnr
from vidrop.codec.codebook import PatchCodebook, import_faiss

__all__ = ["frames_to_patches", "patches_to_frames", "encode", "decode", "decode_torch", "psnr",
           "compression_factor", "nearest_centroid_bruteforce"]


def frames_to_patches(frames: np.ndarray, patch_size: int) -> np.ndarray:
    """Cut frames into non-overlapping ``p x p`` patches (bottom/right remainders are cropped).

    Shape:
        frames: ``(T, H, W, 3)`` uint8 -> ``(T, H // p, W // p, p*p*3)`` float32, patch order ``(py, px, c)``.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3), got {frames.shape}")
    p = patch_size
    t, h, w, _ = frames.shape
    hp, wp = h // p, w // p
    if hp == 0 or wp == 0:
        raise ValueError(f"frames {h}x{w} are smaller than one {p}x{p} patch")
    x = frames[:, : hp * p, : wp * p]
    return rearrange(x, "t (hp py) (wp px) c -> t hp wp (py px c)", py=p, px=p).astype(np.float32)


def patches_to_frames(patches: np.ndarray, patch_size: int) -> np.ndarray:
    """Inverse of :func:`frames_to_patches`: ``(T, Hp, Wp, p*p*3)`` -> ``(T, Hp*p, Wp*p, 3)``."""
    p = patch_size
    return rearrange(patches, "t hp wp (py px c) -> t (hp py) (wp px) c", py=p, px=p, c=3)


def encode(frames: np.ndarray, codebook: PatchCodebook, chunk: int = 65536) -> np.ndarray:
    """Encode a video to one nearest-centroid index per patch (faiss exact L2 search).

    Shape:
        frames: ``(T, H, W, 3)`` uint8 -> codes ``(T, H // p, W // p)`` of ``codebook.index_dtype``.
    """
    faiss = import_faiss()
    x = frames_to_patches(frames, codebook.patch_size)
    t, hp, wp, d = x.shape
    flat = np.ascontiguousarray(x.reshape(-1, d))
    index = faiss.IndexFlatL2(d)
    index.add(codebook.centroids)
    out = np.empty(len(flat), dtype=codebook.index_dtype)
    for start in range(0, len(flat), chunk):
        _, idx = index.search(flat[start:start + chunk], 1)
        out[start:start + chunk] = idx[:, 0]
    return out.reshape(t, hp, wp)


def nearest_centroid_bruteforce(patches: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Reference assignment by explicit squared distances (float64), for tests.

    Shape:
        patches ``(M, d)``, centroids ``(K, d)`` -> ``(M,)`` int64.
    """
    a = patches.astype(np.float64)
    c = centroids.astype(np.float64)
    d2 = (a * a).sum(1, keepdims=True) - 2 * a @ c.T + (c * c).sum(1)[None]
    return d2.argmin(1)


def decode(codes: np.ndarray, codebook: PatchCodebook) -> np.ndarray:
    """Decode by gathering the (uint8-rounded) centroids.

    Shape:
        codes ``(T, Hp, Wp)`` -> frames ``(T, Hp*p, Wp*p, 3)`` uint8.
    """
    cents = codebook.centroids_uint8().reshape(codebook.num_clusters, -1)  # (K, p*p*3)
    return patches_to_frames(cents[codes.astype(np.int64)], codebook.patch_size)


def decode_torch(codes: torch.Tensor, centroids: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Decode on any device (the data loader's GPU path): a gather of ``centroids`` rows.

    Args:
        codes: ``(..., T, Hp, Wp)`` integer indices (uint16 arrays should be converted with ``.long()``).
        centroids: ``(K, p*p*3)`` uint8 or float centroids on the target device.
        patch_size: patch side ``p``.

    Returns:
        ``(..., T, Hp*p, Wp*p, 3)`` with ``centroids``' dtype.
    """
    p = patch_size
    x = centroids[codes.long()]  # (..., T, Hp, Wp, p*p*3)
    return rearrange(x, "... t hp wp (py px c) -> ... t (hp py) (wp px) c", py=p, px=p, c=3)


def psnr(reference: np.ndarray, reconstruction: np.ndarray) -> float:
    """PSNR in dB over all pixels of a decoded uint8 video: :func:`sparse_core.eval.metrics.psnr` with
    ``data_range=255`` (``inf`` when lossless), the reference cropped to the decoded extent (decoding drops the
    bottom / right remainders of the patch grid).

    Shape:
        reference ``(T', H', W', 3)``, reconstruction ``(T, H, W, 3)`` with ``T <= T'``, ``H <= H'``, ``W <= W'``.
    """
    t, h, w = reconstruction.shape[:3]
    ref = torch.from_numpy(np.ascontiguousarray(reference[:t, :h, :w]))
    return float(image_psnr(torch.from_numpy(reconstruction), ref, data_range=255.0, dim=None, min_mse=0.0))


def compression_factor(codebook: PatchCodebook) -> float:
    """Raw bytes of one ``p x p`` RGB uint8 patch over the bytes of its index (p = 10, K = 65536: 300 / 2 = 150)."""
    return codebook.patch_size**2 * 3 / codebook.index_dtype.itemsize
