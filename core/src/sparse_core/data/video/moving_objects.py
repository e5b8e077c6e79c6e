"""Moving Fashion-MNIST: real garments moving and bouncing on a black canvas (the Moving-MNIST construction).

Srivastava et al. (2015)'s Moving MNIST puts 28x28 digits on a 64x64 canvas, each moving at a constant velocity
and bouncing off the borders, and composes them with a pixel-wise maximum. :class:`MovingFashion` does the same
with Fashion-MNIST garments, so two temporal windows of one video share real content (the garments) and motion,
which is what video self-supervision (DINO / V-JEPA / VideoMAE on Kinetics) relies on.

Every video is a pure function of ``(seed, split, index)``: garments, start positions, speeds and directions are
drawn from ``numpy.random.default_rng([seed, split_id, index])``; nothing is stored but the Fashion-MNIST files.
Each video has two balanced labels about its **main object** (object 0):

* ``content``: its garment class (10 classes, ``index % 10``, :data:`~sparse_core.data.fashion_mnist.CLASSES`);
* ``motion``: its heading at frame 0, one of ``num_directions`` equally spaced directions
  (``(index // 10) % num_directions``; direction ``k`` is the angle ``2 pi k / num_directions``, counter-clockwise
  from "right" in image coordinates with y pointing up, i.e. ``(cos, -sin)`` in (x, y) pixel steps).
  Bounces reflect the heading, so later frames may show another direction (a hard, documented case).

``split="train"`` draws garments from Fashion-MNIST's 60k training images and ``split="test"`` from its 10k test
images, so test videos show garments never seen in training.

Positions are in closed form: the top-left corner of an object at frame ``t`` is ``fold(p0 + t v)`` where ``fold``
reflects into ``[0, S - 28]`` (a triangle wave: an elastic bounce on each border), so any frame costs the same.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from sparse_core.data.errors import DatasetError
from sparse_core.data.fashion_mnist import CLASSES, FashionMNIST
from sparse_core.data.video.config import VideoDataConfig
from sparse_core.data.video.names import LABEL_KINDS

__all__ = ["MovingFashion", "fold_positions", "moving_fashion", "LABEL_KINDS", "GARMENT_SIZE"]

GARMENT_SIZE = 28
"""Side of a Fashion-MNIST image in pixels."""
_SPLIT_ID = {"train": 0, "test": 1}


@functools.lru_cache(maxsize=4)
def _garments(root: str | None, split: str) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Fashion-MNIST images ``(N, 28, 28)`` uint8, labels ``(N,)`` and the indices of each class (cached)."""
    ds = FashionMNIST(root, split=split)  # type: ignore[arg-type]
    images, labels = ds.images.numpy(), ds.labels.numpy()
    by_class = tuple(np.flatnonzero(labels == c) for c in range(len(CLASSES)))
    return images, labels, by_class


def fold_positions(p: np.ndarray, span: float) -> np.ndarray:
    """Reflect unbounded positions into ``[0, span]``: elastic bounces off both borders (a triangle wave).

    Shape: any; returns the same shape as ``p`` (float64).
    """
    if span <= 0:
        return np.zeros_like(p, dtype=np.float64)
    q = np.mod(np.asarray(p, dtype=np.float64), 2 * span)
    return span - np.abs(q - span)


class MovingFashion(Dataset[dict[str, Any]]):
    """Seeded Moving-MNIST-style videos of 1 to ``max_objects`` Fashion-MNIST garments on a black canvas.

    Items are ``{"video": (T, S, S, 3) uint8 tensor (grey repeated), "label": int, "content": int,
    "motion": int, "index": int}``, ``"label"`` being the ``label_kind`` one.

    Args:
        num_videos: Dataset length (a multiple of ``10 * num_directions`` makes both labels exactly balanced).
        num_frames: Frames per video ``T``.
        image_size: Canvas side ``S`` (> 28; Moving MNIST: 64).
        seed: Dataset seed; use different seeds or splits for train and test.
        split: Which Fashion-MNIST images the garments come from (``"train"`` or ``"test"``).
        min_objects: Fewest garments per video (>= 1).
        max_objects: Most garments per video (the count is uniform in ``[min_objects, max_objects]``).
        num_directions: Motion classes: equally spaced headings of the main object (>= 1).
        speed_range: Pixels per frame, uniform in this range (Moving MNIST moves digits 2-5 px per frame).
        label_kind: What ``"label"`` holds, one of :data:`LABEL_KINDS`.
        root: Fashion-MNIST folder (default: ``$SPARSE_SSL_FASHION_MNIST`` or Debian's install path).

    Raises:
        DatasetError: Bad arguments, or the Fashion-MNIST files are missing (the message says how to install them).
    """

    classes = CLASSES

    def __init__(
        self,
        num_videos: int,
        num_frames: int = 20,
        image_size: int = 64,
        seed: int = 0,
        split: Literal["train", "test"] = "train",
        min_objects: int = 1,
        max_objects: int = 3,
        num_directions: int = 8,
        speed_range: tuple[float, float] = (2.0, 4.0),
        label_kind: str = "content",
        root: str | os.PathLike[str] | None = None,
    ) -> None:
        if num_videos < 1 or num_frames < 1:
            raise DatasetError(f"MovingFashion: num_videos and num_frames must be >= 1, got {num_videos}, {num_frames}")
        if image_size <= GARMENT_SIZE:
            raise DatasetError(f"MovingFashion: image_size must exceed {GARMENT_SIZE}, got {image_size}")
        if not 1 <= min_objects <= max_objects:
            raise DatasetError(f"MovingFashion: need 1 <= min_objects <= max_objects, got {min_objects}, {max_objects}")
        if num_directions < 1:
            raise DatasetError(f"MovingFashion: num_directions must be >= 1, got {num_directions}")
        if not 0 <= speed_range[0] <= speed_range[1]:
            raise DatasetError(f"MovingFashion: need 0 <= speed_range[0] <= speed_range[1], got {speed_range}")
        if split not in _SPLIT_ID:
            raise DatasetError(f"MovingFashion: split must be 'train' or 'test', got {split!r}")
        if label_kind not in LABEL_KINDS:
            raise DatasetError(f"MovingFashion: label_kind must be one of {LABEL_KINDS}, got {label_kind!r}")
        self.num_videos, self.num_frames, self.image_size = num_videos, num_frames, image_size
        self.seed, self.split = seed, split
        self.min_objects, self.max_objects, self.num_directions = min_objects, max_objects, num_directions
        self.speed_range = (float(speed_range[0]), float(speed_range[1]))
        self.label_kind = label_kind
        self.root = None if root is None else str(root)
        self.images, self.garment_labels, self._by_class = _garments(self.root, split)
        self.num_classes = len(CLASSES) if label_kind == "content" else num_directions

    def __len__(self) -> int:
        """Number of videos."""
        return self.num_videos

    def content(self, index: int) -> int:
        """Garment class of the main object of video ``index``."""
        return index % len(CLASSES)

    def motion(self, index: int) -> int:
        """Heading class of the main object at frame 0 of video ``index``."""
        return (index // len(CLASSES)) % self.num_directions

    def label(self, index: int) -> int:
        """The ``label_kind`` label of video ``index``."""
        return self.content(index) if self.label_kind == "content" else self.motion(index)

    def params(self, index: int) -> dict[str, np.ndarray]:
        """Garment image indices ``(n,)``, start corners ``(n, 2)`` (x, y) and velocities ``(n, 2)`` (px / frame).

        Object 0 is the main one: its garment is of class :meth:`content` and its heading is :meth:`motion`;
        the others have any garment and a uniform heading.
        """
        if not 0 <= index < self.num_videos:
            raise IndexError(f"index {index} out of range for {self.num_videos} videos")
        rng = np.random.default_rng([self.seed, _SPLIT_ID[self.split], index])
        n = int(rng.integers(self.min_objects, self.max_objects + 1))
        main = self._by_class[self.content(index)]
        garments = np.concatenate([[main[rng.integers(len(main))]], rng.integers(0, len(self.images), n - 1)])
        span = self.image_size - GARMENT_SIZE
        corners = rng.uniform(0, span, (n, 2))
        heading = rng.uniform(0, 2 * math.pi, n)
        heading[0] = 2 * math.pi * self.motion(index) / self.num_directions
        speed = rng.uniform(*self.speed_range, n)
        vel = np.stack([np.cos(heading), -np.sin(heading)], 1) * speed[:, None]  # image y points down
        return {"garments": garments.astype(np.int64), "corners": corners, "velocities": vel}

    def positions(self, index: int, t: np.ndarray | int) -> np.ndarray:
        """Top-left corners of every object at frames ``t``: ``(len(t), n, 2)`` float (x, y), in ``[0, S - 28]``."""
        p = self.params(index)
        ts = np.atleast_1d(np.asarray(t, dtype=np.float64))
        raw = p["corners"][None] + ts[:, None, None] * p["velocities"][None]
        return fold_positions(raw, float(self.image_size - GARMENT_SIZE))

    def video(self, index: int) -> np.ndarray:
        """Video ``index`` as ``(T, S, S, 3)`` uint8: objects pasted at rounded corners, composed by maximum."""
        p = self.params(index)
        corners = np.rint(self.positions(index, np.arange(self.num_frames))).astype(np.int64)  # (T, n, 2)
        canvas = np.zeros((self.num_frames, self.image_size, self.image_size), np.uint8)
        for i, g in enumerate(p["garments"]):
            img = self.images[g]
            for t in range(self.num_frames):
                x, y = corners[t, i]
                patch = canvas[t, y:y + GARMENT_SIZE, x:x + GARMENT_SIZE]
                np.maximum(patch, img, out=patch)
        return np.repeat(canvas[..., None], 3, axis=-1)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``{"video", "label", "content", "motion", "index"}`` of video ``index``."""
        return {"video": torch.from_numpy(self.video(index)), "label": self.label(index),
                "content": self.content(index), "motion": self.motion(index), "index": index}


def moving_fashion(cfg: VideoDataConfig, split: str = "train", num_videos: int | None = None,
                   seed_offset: int = 0, label_kind: str | None = None) -> MovingFashion:
    """The :class:`~sparse_core.data.video.moving_objects.MovingFashion` videos that ``cfg`` describes.

    Args:
        cfg: ``num_videos``, ``num_frames``, ``image_size``, ``seed``, ``max_objects``, ``num_directions``,
            ``label_kind`` and ``garments_root`` (the Fashion-MNIST folder; None: the default one).
        split: ``"train"`` (garments of Fashion-MNIST's training images) or ``"test"`` (unseen garments).
        num_videos: overrides ``cfg.num_videos``.
        seed_offset: added to ``cfg.seed``.
        label_kind: overrides ``cfg.label_kind``.
    """
    return MovingFashion(cfg.num_videos if num_videos is None else num_videos, cfg.num_frames or 20,
                         cfg.image_size, cfg.seed + seed_offset, split, 1, cfg.max_objects,  # type: ignore[arg-type]
                         cfg.num_directions, label_kind=label_kind or cfg.label_kind, root=cfg.garments_root)
