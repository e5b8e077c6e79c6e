"""Cutting frames into the codec's ``p x p`` patch grid and back (shared by the codebook and the coder)."""

from __future__ import annotations

import numpy as np
from einops import rearrange

__all__ = ["frames_to_patches", "patches_to_frames"]


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
