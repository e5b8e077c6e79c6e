"""Procedural shapes: the label is the shape, colour / texture / position / scale are random.

Useful to test shape bias (the label cannot be read from colour or texture) and as default
embedded data for demos and tests. Every sample is a pure function of ``(seed, index)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from sparse_core.data.errors import DatasetError

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross")


def shape_mask(kind: str, dx: np.ndarray, dy: np.ndarray, r: float, angle: float) -> np.ndarray:
    """Boolean mask of one shape of circumradius ``r`` rotated by ``angle``.

    Args:
        kind: One of :data:`SHAPES`.
        dx: ``(H, W)`` horizontal pixel-centre offsets from the shape centre, in pixels.
        dy: ``(H, W)`` vertical offsets.
        r: Circumradius in pixels.
        angle: Rotation in radians.

    Returns:
        ``(H, W)`` bool.
    """
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy  # rotated coordinates
    if kind == "circle":
        return dx * dx + dy * dy <= r * r
    if kind == "square":
        h = r / np.sqrt(2.0)
        return (np.abs(u) <= h) & (np.abs(v) <= h)
    if kind == "triangle":  # equilateral: inside three half-planes at distance r/2 (the inradius)
        inside = np.ones_like(dx, dtype=bool)
        for k in range(3):
            t = 2.0 * np.pi * k / 3.0
            inside &= np.cos(t) * u + np.sin(t) * v <= r / 2.0
        return inside
    if kind == "star":  # five points: radius goes linearly between inner and outer radius in phi
        rho = np.hypot(u, v)
        phi = np.arctan2(v, u)
        tri = np.abs(((phi * 5.0 / (2.0 * np.pi)) % 1.0) * 2.0 - 1.0)  # 1 at the tips, 0 between
        return rho <= r * (0.45 + 0.55 * tri)
    if kind == "cross":
        w = 0.3 * r
        return ((np.abs(u) <= w) & (np.abs(v) <= r)) | ((np.abs(v) <= w) & (np.abs(u) <= r))
    raise ValueError(f"unknown shape {kind!r}; choose from {SHAPES}")


def textured_background(rng: np.random.Generator, size: int, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Random textured background: a gradient, stripes, a checkerboard or a flat colour, plus pixel noise.

    Args:
        rng: Source of every random choice.
        size: Image side ``S`` in pixels.
        yy: ``(S, S)`` row coordinates (``np.mgrid``).
        xx: ``(S, S)`` column coordinates.

    Returns:
        ``(S, S, 3)`` float32 in [0, 1].
    """
    c0, c1 = rng.random(3), rng.random(3)
    kind = rng.integers(4)
    if kind == 0:  # linear gradient between two colours
        t = rng.uniform(0, 2 * np.pi)
        w = (np.cos(t) * xx + np.sin(t) * yy) / size
        w = (w - w.min()) / max(float(np.ptp(w)), 1e-6)
    elif kind == 1:  # sinusoidal stripes
        t, freq = rng.uniform(0, 2 * np.pi), rng.uniform(1.5, 5.0)
        w = 0.5 + 0.5 * np.sin(
            2 * np.pi * freq * (np.cos(t) * xx + np.sin(t) * yy) / size + rng.uniform(0, 6.3)
        )
    elif kind == 2:  # checkerboard
        cell = rng.integers(2, max(3, size // 4) + 1)
        w = ((xx // cell + yy // cell) % 2).astype(np.float64)
    else:  # uniform
        w = np.zeros_like(xx, dtype=np.float64)
    bg = c0 + (c1 - c0) * w[..., None]
    bg = bg + rng.normal(0.0, rng.uniform(0.0, 0.08), size=bg.shape)  # pixel noise
    return np.clip(bg, 0.0, 1.0).astype(np.float32)


def render_shape(seed: int, index: int, image_size: int, shapes: tuple[str, ...] = SHAPES) -> dict[str, Any]:
    """Render sample ``index`` of the dataset with ``seed`` (pure function, no global RNG).

    The label is ``index % len(shapes)`` (classes exactly balanced); everything else is drawn from
    ``numpy.random.default_rng((seed, index))``: a flat foreground colour at least 0.35 (L2 in RGB)
    away from the background's mean colour, a random background texture (gradient, stripes,
    checkerboard or uniform, plus pixel noise), a circumradius in [0.2, 0.4] x size, a rotation, and
    a centre keeping the shape inside the image. Pixels are not anti-aliased, so the mask is exact.

    Returns:
        ``{"image": (3, H, W) float32 in [0, 1], "label": int, "mask": (H, W) bool,
        "color": (3,) float32}``.
    """
    rng = np.random.default_rng((seed, index))
    label = index % len(shapes)
    yy, xx = np.mgrid[0:image_size, 0:image_size].astype(np.float64)
    bg = textured_background(rng, image_size, yy, xx)
    mean = bg.reshape(-1, 3).mean(0)
    color = rng.random(3)
    for _ in range(64):
        if np.linalg.norm(color - mean) >= 0.35:
            break
        color = rng.random(3)
    else:
        color = np.where(mean > 0.5, 0.0, 1.0)
    r = rng.uniform(0.2, 0.4) * image_size
    cx, cy = rng.uniform(r, image_size - r, size=2)
    mask = shape_mask(shapes[label], xx + 0.5 - cx, yy + 0.5 - cy, r, rng.uniform(0, 2 * np.pi))
    color32 = color.astype(np.float32)
    img = np.where(mask[..., None], color32, bg)  # (H, W, 3)
    return {
        "image": torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))),
        "label": label,
        "mask": torch.from_numpy(mask),
        "color": torch.from_numpy(color32),
    }


class SyntheticShapes(Dataset[Any]):
    """Procedural shape classification / segmentation dataset, deterministic in ``(seed, index)``.

    Items are ``{"image": (3, S, S) float32, "label": int, "mask": (S, S) bool}`` (see
    :func:`render_shape`; ``"color"`` is dropped). If ``transform`` is a torchvision v2 transform it
    is called as ``transform(Image, Mask)`` so geometric augmentations move the mask with the image
    (photometric ones leave it alone); any other callable gets the image only and the mask is
    returned unchanged. Augmentation randomness comes from the global torch RNG, so the rendered
    data stays fixed while the views vary.

    Args:
        num_samples: Dataset length.
        image_size: Side ``S`` in pixels.
        seed: Data seed.
        transform: Optional transform (see above).
        shapes: Shape classes, subset of :data:`SHAPES`, in label order.
    """

    num_skipped = 0  # generated data is never corrupt

    def __init__(
        self,
        num_samples: int = 1000,
        image_size: int = 32,
        seed: int = 0,
        transform: Callable[..., Any] | None = None,
        shapes: tuple[str, ...] = SHAPES,
    ) -> None:
        if num_samples <= 0:
            raise DatasetError(f"SyntheticShapes: num_samples must be positive, got {num_samples}")
        if image_size < 8:
            raise DatasetError(f"SyntheticShapes: image_size must be at least 8 pixels, got {image_size}")
        unknown = [s for s in shapes if s not in SHAPES]
        if unknown or not shapes:
            raise DatasetError(
                f"SyntheticShapes: unknown shapes {unknown}; choose a non-empty subset of {SHAPES}"
            )
        self.num_samples = num_samples
        self.image_size = image_size
        self.seed = seed
        self.transform = transform
        self.classes: tuple[str, ...] = tuple(shapes)

    def __len__(self) -> int:
        """Number of samples."""
        return self.num_samples

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Return ``{"image", "label", "mask"}`` for ``index`` (see the class docstring)."""
        if not 0 <= index < self.num_samples:
            raise IndexError(f"index {index} out of range for {self.num_samples} samples")
        s = render_shape(self.seed, index, self.image_size, self.classes)
        image: Any = s["image"]
        mask: Tensor = s["mask"]
        if isinstance(self.transform, v2.Transform):
            image, mask = self.transform(tv_tensors.Image(image), tv_tensors.Mask(mask))
            mask = mask.as_subclass(Tensor)
            image = image.as_subclass(Tensor) if isinstance(image, Tensor) else image
        elif self.transform is not None:
            image = self.transform(image)
        return {"image": image, "label": s["label"], "mask": mask}
