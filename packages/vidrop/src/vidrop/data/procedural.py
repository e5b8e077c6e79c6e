"""Procedurally generated action-like clips: a shape moving in a class-specific way (the CPU default data).

Each clip shows one random shape (square, triangle or cross) of random colour over a random textured
background; the *label* is the motion (8 classes: translate right / left / up / down, grow, shrink, rotate
clockwise / counter-clockwise). Appearance is random and the same for every class, so a probe has to read the
motion. Every clip is a pure function of ``(seed, index)``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["MOTIONS", "ProceduralVideos", "render_clip", "write_video", "write_video_folder"]

MOTIONS: tuple[str, ...] = ("right", "left", "up", "down", "grow", "shrink", "rotate_cw", "rotate_ccw")
"""Class names, in label order."""


def _shape_mask(kind: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-test of a unit shape in object coordinates ``u, v`` (both ``(H, W)``)."""
    if kind == 0:  # square
        return np.maximum(np.abs(u), np.abs(v)) < 1.0
    if kind == 1:  # triangle pointing up
        return (v < 0.8) & (v > -1.0 + 1.8 * np.abs(u))
    return ((np.abs(u) < 0.35) & (np.abs(v) < 1.0)) | ((np.abs(v) < 0.35) & (np.abs(u) < 1.0))  # cross


def render_clip(label: int, rng: np.random.Generator, num_frames: int = 16, size: int = 64) -> np.ndarray:
    """Render one clip of motion class ``label``.

    Args:
        label: index into :data:`MOTIONS`.
        rng: source of all appearance and trajectory randomness.
        num_frames: clip length ``T``.
        size: frame side ``S`` in pixels.

    Returns:
        ``(T, S, S, 3)`` uint8 frames.
    """
    motion = MOTIONS[label % len(MOTIONS)]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    # Background: random colour + smooth noise texture (upsampled coarse noise) + per-frame sensor noise.
    coarse = rng.uniform(-1, 1, (5, 5, 3)).astype(np.float32)
    idx = np.linspace(0, 4, size).astype(np.float32)
    i0 = np.minimum(idx.astype(int), 3)
    f = (idx - i0)[:, None, None]
    rows = coarse[i0] * (1 - f) + coarse[i0 + 1] * f  # (S, 5, 3)
    f2 = (idx - i0)[None, :, None]
    tex = rows[:, i0] * (1 - f2) + rows[:, i0 + 1] * f2  # (S, S, 3)
    bg = np.clip(rng.uniform(40, 215, 3)[None, None] + 35 * tex, 0, 255)
    colour = rng.uniform(0, 255, 3).astype(np.float32)
    while np.abs(colour - bg.mean((0, 1))).max() < 80:  # keep the object visible
        colour = rng.uniform(0, 255, 3).astype(np.float32)
    kind = int(rng.integers(0, 3))
    base_scale = size * rng.uniform(0.1, 0.16)
    speed = size * rng.uniform(0.5, 0.75) / max(num_frames - 1, 1)  # pixels per frame
    angle0 = rng.uniform(0, 2 * math.pi)
    margin = base_scale * 1.2
    cx = rng.uniform(margin, size - margin)
    cy = rng.uniform(margin, size - margin)
    travel = speed * (num_frames - 1)
    if motion in ("right", "left"):
        cx = rng.uniform(margin, max(margin, size - margin - travel))
        if motion == "left":
            cx = size - cx
    if motion in ("up", "down"):
        cy = rng.uniform(margin, max(margin, size - margin - travel))
        if motion == "up":
            cy = size - cy
    frames = np.empty((num_frames, size, size, 3), dtype=np.uint8)
    for t in range(num_frames):
        x, y, scale, ang = cx, cy, base_scale, angle0
        frac = t / max(num_frames - 1, 1)
        if motion == "right":
            x = cx + speed * t
        elif motion == "left":
            x = cx - speed * t
        elif motion == "down":
            y = cy + speed * t
        elif motion == "up":
            y = cy - speed * t
        elif motion == "grow":
            scale = base_scale * (0.6 + 0.9 * frac)
        elif motion == "shrink":
            scale = base_scale * (1.5 - 0.9 * frac)
        elif motion == "rotate_cw":
            ang = angle0 + 1.6 * math.pi * frac
        else:
            ang = angle0 - 1.6 * math.pi * frac
        c, s = math.cos(ang), math.sin(ang)
        du, dv = (xs - x) / scale, (ys - y) / scale
        u, v = c * du + s * dv, -s * du + c * dv
        inside = _shape_mask(kind, u, v)[..., None]
        img = np.where(inside, colour[None, None], bg) + rng.normal(0, 4, (size, size, 3))
        frames[t] = np.clip(img, 0, 255).astype(np.uint8)
    return frames


class ProceduralVideos:
    """A deterministic, in-memory set of procedural clips (balanced classes: label = index % num_classes).

    Args:
        num_samples: number of clips.
        num_frames: frames per clip.
        size: frame side in pixels.
        seed: clip ``i`` is rendered from ``np.random.default_rng([seed, i])``.
        num_classes: number of motion classes used (<= 8).
    """

    def __init__(self, num_samples: int, num_frames: int = 16, size: int = 64, seed: int = 0,
                 num_classes: int = len(MOTIONS)) -> None:
        if not 1 <= num_classes <= len(MOTIONS):
            raise ValueError(f"num_classes must be in 1..{len(MOTIONS)}, got {num_classes}")
        self.num_samples, self.num_frames, self.size = num_samples, num_frames, size
        self.seed, self.num_classes = seed, num_classes

    def __len__(self) -> int:
        return self.num_samples

    def label(self, index: int) -> int:
        """Motion class of clip ``index``."""
        return index % self.num_classes

    def video(self, index: int) -> np.ndarray:
        """Clip ``index`` as ``(T, S, S, 3)`` uint8."""
        if not 0 <= index < self.num_samples:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, index])
        return render_clip(self.label(index), rng, self.num_frames, self.size)


def write_video(path: str | Path, frames: np.ndarray, fps: int = 8) -> Path:
    """Write ``(T, H, W, 3)`` uint8 frames as an H.264 mp4 (PyAV, near-lossless CRF)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv444p"
        stream.options = {"crf": "10"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_video_folder(root: str | Path, videos: ProceduralVideos, split: str | None = None) -> list[Path]:
    """Write every clip to ``root[/split]/<motion>/<index>.mp4`` (Kinetics-style class-folder layout)."""
    base = Path(root) / split if split else Path(root)
    return [write_video(base / MOTIONS[videos.label(i)] / f"{i:06d}.mp4", videos.video(i))
            for i in range(len(videos))]
