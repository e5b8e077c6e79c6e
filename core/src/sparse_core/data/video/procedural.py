"""Seeded procedural videos drawn with the image shapes' rasteriser (:mod:`sparse_core.data.shapes`).

Two modes, one generator:

* :class:`MotionShapes` (recognition, ViDROP): one shape over a textured background; the class is the
  motion only (:data:`MOTIONS`: translate right / left / up / down, grow, shrink, rotate clockwise /
  counter-clockwise). Shape kind, colour, size, texture, position and angle are drawn independently of
  the class, and redrawn every ``segment_frames`` frames (a "shot cut"), so two clips of one video
  share their appearance only when they fall in the same segment. Translations wrap around the frame
  (a torus) and the angle is uniform, so the position and angle of the shape are uniform in every
  frame whatever the class; sizes are log-uniform and every motion is centred on the segment's middle
  frame, where the size is the drawn one: a single frame (any frame for the translation and rotation
  classes, the middle frame for all) or the mean colour carries no information on the class.
* :class:`BouncingShapes` (prediction, RIVER): ``num_shapes`` palette-coloured shapes on black, moving
  at constant velocity and bouncing elastically off the borders (Moving-MNIST style). Positions at time
  ``t`` come in closed form, so any single frame costs the same.

Every video is a pure function of ``(seed, index)`` (``numpy.random.default_rng([seed, index])``),
returned in the canonical clip layout ``(T, H, W, 3)`` uint8 (:mod:`sparse_core.data.video.layout`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from sparse_core.data.shapes import SHAPES, shape_mask, textured_background
from sparse_core.data.video.names import MOTION_SHAPES, MOTIONS

__all__ = [
    "MOTIONS",
    "MOTION_SHAPES",
    "PALETTE",
    "BouncingShapes",
    "MotionShapes",
    "render_bouncing_frame",
    "render_motion_clip",
]

PALETTE = np.array(
    [[1.0, 0.25, 0.25], [0.25, 1.0, 0.25], [0.3, 0.45, 1.0], [1.0, 0.9, 0.2], [0.2, 0.95, 0.95], [1.0, 0.4, 1.0]],
    dtype=np.float32,
)
"""Saturated colours of :class:`BouncingShapes` (a small palette keeps a tiny autoencoder's job easy)."""

_ZOOM = math.log(2.5)  # grow / shrink: size ratio over a whole video
_NOISE = 4.0 / 255.0  # per-frame sensor noise of MotionShapes


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    return yy, xx


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


def _contrasting_colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    """A random RGB colour at least 0.35 (L2) from the background's mean colour (as ``render_shape``)."""
    mean = background.reshape(-1, 3).mean(0)
    for _ in range(64):
        colour = rng.random(3)
        if np.linalg.norm(colour - mean) >= 0.35:
            return colour
    return np.where(mean > 0.5, 0.0, 1.0)


def render_motion_clip(
    motion: str,
    rng: np.random.Generator,
    num_frames: int = 16,
    size: int = 64,
    segment_frames: int | None = None,
    radius_range: tuple[float, float] = (0.12, 0.2),
    speed_scale: float = 1.0,
    kind: str | None = None,
) -> np.ndarray:
    """Render one clip of motion class ``motion``.

    Args:
        motion: One of :data:`MOTIONS`.
        rng: Source of all appearance and trajectory randomness.
        num_frames: Clip length ``T``.
        size: Frame side ``S`` in pixels.
        segment_frames: Appearance (shape, colour, size, texture, position, angle, speed) is redrawn every
            this many frames; None: one appearance for the whole clip.
        radius_range: Circumradius at the middle frame, as fractions of ``S`` (log-uniform in this range).
        speed_scale: Multiplies every motion rate (translation speed, zoom and spin per frame); 1 moves a
            shape by 0.5-0.75 ``S`` over the whole clip.
        kind: Shape kind of every segment (one of :data:`MOTION_SHAPES`); None: drawn per segment. The random
            stream is the same either way (the kind is drawn and then replaced).

    Returns:
        ``(T, S, S, 3)`` uint8 frames.
    """
    if motion not in MOTIONS:
        raise ValueError(f"unknown motion {motion!r}; choose from {MOTIONS}")
    if kind is not None and kind not in MOTION_SHAPES:
        raise ValueError(f"unknown shape kind {kind!r}; choose from {MOTION_SHAPES}")
    lo, hi = radius_range
    if not 0 < lo <= hi or speed_scale <= 0:
        raise ValueError(f"need 0 < radius_range[0] <= radius_range[1] and speed_scale > 0, got {radius_range}, "
                         f"{speed_scale}")
    yy, xx = _grid(size)
    steps = max(num_frames - 1, 1)  # motion rates are per frame, relative to the whole clip
    seg = segment_frames or num_frames
    frames = np.empty((num_frames, size, size, 3), dtype=np.uint8)
    for start in range(0, num_frames, seg):
        n = min(seg, num_frames - start)
        bg = textured_background(rng, size, yy, xx)
        colour = _contrasting_colour(rng, bg).astype(np.float32)
        drawn = MOTION_SHAPES[int(rng.integers(len(MOTION_SHAPES)))]
        shape = kind or drawn
        r0 = size * math.exp(rng.uniform(math.log(lo), math.log(hi)))  # circumradius at the middle frame
        cx, cy = rng.uniform(0, size, 2)
        angle0 = rng.uniform(0, 2 * math.pi)
        speed = speed_scale * size * rng.uniform(0.5, 0.75) / steps  # pixels per frame
        spin = speed_scale * rng.uniform(1.2, 2.0) * math.pi / steps  # radians per frame
        for k in range(n):
            u = k - (n - 1) / 2  # time from the segment's middle frame
            x, y, r, a = cx, cy, r0, angle0
            if motion == "right":
                x += speed * u
            elif motion == "left":
                x -= speed * u
            elif motion == "down":
                y += speed * u
            elif motion == "up":
                y -= speed * u
            elif motion == "grow":
                r = r0 * math.exp(speed_scale * _ZOOM * u / steps)
            elif motion == "shrink":
                r = r0 * math.exp(-speed_scale * _ZOOM * u / steps)
            elif motion == "rotate_cw":  # image y points down: a growing angle turns clockwise on screen
                a = angle0 + spin * u
            else:
                a = angle0 - spin * u
            dx = np.mod(xx + 0.5 - x + size / 2, size) - size / 2  # torus: the shape wraps around
            dy = np.mod(yy + 0.5 - y + size / 2, size) - size / 2
            inside = shape_mask(shape, dx, dy, r, a)[..., None]
            img = np.where(inside, colour, bg) + rng.normal(0.0, _NOISE, bg.shape)
            frames[start + k] = _to_uint8(img)
    return frames


def _bouncing_params(seed: int, index: int, num_shapes: int, size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, index])
    radius = rng.uniform(0.12, 0.2, num_shapes) * size  # circumradius in pixels
    pos0 = rng.uniform(0, 1, (num_shapes, 2))
    heading = rng.uniform(0, 2 * np.pi, num_shapes)
    speed = rng.uniform(0.03, 0.07, num_shapes) * size  # pixels per frame
    return {
        "kind": rng.integers(0, len(SHAPES), num_shapes),
        "radius": radius,
        "pos0": pos0,
        "vel": np.stack([np.cos(heading), np.sin(heading)], 1) * speed[:, None],
        "angle": rng.uniform(0, 2 * np.pi, num_shapes),
        "color": PALETTE[rng.integers(0, len(PALETTE), num_shapes)],
    }


def _fold(p: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Reflect positions into [lo, hi] (elastic bounces) with a triangle wave."""
    span = hi - lo
    q = np.mod(p - lo, 2 * span)
    return lo + span - np.abs(q - span)


def render_bouncing_frame(params: dict[str, np.ndarray], t: int, size: int) -> np.ndarray:
    """Frame ``t`` of the bouncing-shapes video described by ``params``.

    Args:
        params: Shape kinds, radii, start positions (fractions), velocities, angles and colours
            (:meth:`BouncingShapes.params`).
        t: Frame index (any non-negative integer: positions are in closed form).
        size: Frame side ``S``.

    Returns:
        ``(S, S, 3)`` uint8.
    """
    yy, xx = _grid(size)
    img = np.zeros((size, size, 3), np.float32)
    for i in range(len(params["kind"])):
        r = float(params["radius"][i])
        lo, hi = np.array([r, r]), np.array([size - r, size - r])
        start = lo + params["pos0"][i] * (hi - lo)
        cx, cy = _fold(start + t * params["vel"][i], lo, hi)
        m = shape_mask(SHAPES[int(params["kind"][i])], xx + 0.5 - cx, yy + 0.5 - cy, r, float(params["angle"][i]))
        img[m] = params["color"][i]
    return _to_uint8(img)


class MotionShapes(Dataset[dict[str, Any]]):
    """Procedural action recognition: the label is the motion (``index % num_classes``), nothing else.

    Items are ``{"video": (T, S, S, 3) uint8 tensor, "label": int, "index": int}``.

    Args:
        num_videos: Dataset length.
        num_frames: Frames per video ``T``.
        image_size: Frame side ``S``.
        seed: Video ``i`` is rendered from ``numpy.random.default_rng([seed, i])``.
        num_classes: Number of motion classes used, the first ones of :data:`MOTIONS` (<= 8).
        segment_frames: Appearance redrawn every this many frames (None: once per video).
        radius_range: Circumradius range of the shape, as fractions of ``S`` (:func:`render_motion_clip`).
        speed_scale: Multiplier of every motion rate (:func:`render_motion_clip`).
    """

    def __init__(
        self,
        num_videos: int,
        num_frames: int = 16,
        image_size: int = 64,
        seed: int = 0,
        num_classes: int = len(MOTIONS),
        segment_frames: int | None = None,
        radius_range: tuple[float, float] = (0.12, 0.2),
        speed_scale: float = 1.0,
    ) -> None:
        if not 1 <= num_classes <= len(MOTIONS):
            raise ValueError(f"num_classes must be in 1..{len(MOTIONS)}, got {num_classes}")
        if num_videos < 1 or num_frames < 1 or image_size < 8:
            raise ValueError("MotionShapes needs num_videos >= 1, num_frames >= 1 and image_size >= 8")
        self.num_videos, self.num_frames, self.image_size = num_videos, num_frames, image_size
        self.seed, self.num_classes, self.segment_frames = seed, num_classes, segment_frames
        if not 0 < radius_range[0] <= radius_range[1] or speed_scale <= 0:
            raise ValueError(f"MotionShapes needs 0 < radius_range[0] <= radius_range[1] and speed_scale > 0, got "
                             f"{radius_range} and {speed_scale}")
        self.radius_range, self.speed_scale = (float(radius_range[0]), float(radius_range[1])), float(speed_scale)
        self.classes: tuple[str, ...] = MOTIONS[:num_classes]

    def __len__(self) -> int:
        """Number of videos."""
        return self.num_videos

    def label(self, index: int) -> int:
        """Motion class of video ``index``."""
        return index % self.num_classes

    def video(self, index: int) -> np.ndarray:
        """Video ``index`` as ``(T, S, S, 3)`` uint8."""
        if not 0 <= index < self.num_videos:
            raise IndexError(f"index {index} out of range for {self.num_videos} videos")
        rng = np.random.default_rng([self.seed, index])
        return render_motion_clip(
            MOTIONS[self.label(index)], rng, self.num_frames, self.image_size, self.segment_frames,
            self.radius_range, self.speed_scale,
        )

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``{"video", "label", "index"}`` of video ``index``."""
        return {"video": torch.from_numpy(self.video(index)), "label": self.label(index), "index": index}


class BouncingShapes(Dataset[dict[str, Any]]):
    """Procedural video prediction: bouncing shapes, ``{"video": (T, S, S, 3) uint8 tensor, "index": int}``.

    Args:
        num_videos: Dataset length.
        num_frames: Frames per video ``T``.
        image_size: Frame side ``S``.
        num_shapes: Shapes per video (kinds from :data:`~sparse_core.data.shapes.SHAPES`).
        seed: Dataset seed (use different seeds for train and test).
    """

    def __init__(
        self, num_videos: int = 1000, num_frames: int = 16, image_size: int = 32, num_shapes: int = 2, seed: int = 0
    ) -> None:
        if num_videos < 1 or num_frames < 1 or image_size < 8:
            raise ValueError("BouncingShapes needs num_videos >= 1, num_frames >= 1 and image_size >= 8")
        self.num_videos, self.num_frames, self.image_size = num_videos, num_frames, image_size
        self.num_shapes, self.seed = num_shapes, seed

    def __len__(self) -> int:
        """Number of videos."""
        return self.num_videos

    def params(self, index: int) -> dict[str, np.ndarray]:
        """Shape kinds, radii, start positions, velocities, angles and colours of video ``index``."""
        return _bouncing_params(self.seed, index, self.num_shapes, self.image_size)

    def frame(self, index: int, t: int) -> np.ndarray:
        """Frame ``t`` of video ``index``: ``(S, S, 3)`` uint8."""
        return render_bouncing_frame(self.params(index), t, self.image_size)

    def video(self, index: int) -> np.ndarray:
        """Video ``index`` as ``(T, S, S, 3)`` uint8."""
        if not 0 <= index < self.num_videos:
            raise IndexError(f"index {index} out of range for {self.num_videos} videos")
        p = self.params(index)
        return np.stack([render_bouncing_frame(p, t, self.image_size) for t in range(self.num_frames)])

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``{"video", "index"}`` of video ``index``."""
        return {"video": torch.from_numpy(self.video(index)), "index": index}
