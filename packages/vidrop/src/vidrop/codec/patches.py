"""Encoding frames to cluster indices, decoding by centroid gather, and the codec's compression factor."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from einops import rearrange

from vidrop.codec.codebook import PatchCodebook, import_faiss
from vidrop.codec.grid import frames_to_patches, patches_to_frames

__all__ = ["frames_to_patches", "patches_to_frames", "search_index", "encode", "decode", "decode_torch",
           "compression_factor", "nearest_centroid_bruteforce"]


def search_index(codebook: PatchCodebook) -> Any:
    """A faiss exact L2 index over the codebook's centroids (build once, pass to :func:`encode` per chunk)."""
    faiss = import_faiss()
    index = faiss.IndexFlatL2(codebook.centroids.shape[1])
    index.add(codebook.centroids)
    return index


def encode(frames: np.ndarray, codebook: PatchCodebook, chunk: int = 65536, index: Any | None = None) -> np.ndarray:
    """Encode a video to one nearest-centroid index per patch (faiss exact L2 search).

    Args:
        frames: The frames to encode.
        codebook: The codebook.
        chunk: Patches per faiss search call.
        index: :func:`search_index` of ``codebook`` when encoding many chunks (built here if None).

    Shape:
        frames: ``(T, H, W, 3)`` uint8 -> codes ``(T, H // p, W // p)`` of ``codebook.index_dtype``.
    """
    x = frames_to_patches(frames, codebook.patch_size)
    t, hp, wp, d = x.shape
    flat = np.ascontiguousarray(x.reshape(-1, d))
    index = search_index(codebook) if index is None else index
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


def decode(codes: np.ndarray, codebook: PatchCodebook, table: np.ndarray | None = None) -> np.ndarray:
    """Decode by gathering the (uint8-rounded) centroids.

    Args:
        codes: Cluster indices.
        codebook: The codebook.
        table: ``codebook.centroids_uint8().reshape(K, -1)`` when decoding many chunks (computed here if None).

    Shape:
        codes ``(T, Hp, Wp)`` -> frames ``(T, Hp*p, Wp*p, 3)`` uint8.
    """
    cents = codebook.centroids_uint8().reshape(codebook.num_clusters, -1) if table is None else table  # (K, p*p*3)
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


def compression_factor(codebook: PatchCodebook) -> float:
    """Raw bytes of one ``p x p`` RGB uint8 patch over the bytes of its index (p = 10, K = 65536: 300 / 2 = 150)."""
    return codebook.patch_size**2 * 3 / codebook.index_dtype.itemsize
