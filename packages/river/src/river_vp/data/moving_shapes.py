"""Procedural bouncing-shapes videos (Moving-MNIST style), the embedded default data of river-vp.

Each video holds ``num_shapes`` shapes (disc, square, triangle, ring) of palette colours moving at constant
velocity and bouncing elastically off the borders. Everything is a function of ``(seed, index)``, so a video
or any single frame is generated on demand, identically in every process, and nothing is stored. Positions at
time ``t`` come in closed form (a triangle wave folds the straight path back into the frame), so a frame costs
the same whatever its index.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = ["MovingShapes", "MovingShapesFrames", "render_frame"]

SHAPES = ("disc", "square", "triangle", "ring")
PALETTE = np.array(
    [
        [1.0, 0.25, 0.25],
        [0.25, 1.0, 0.25],
        [0.3, 0.45, 1.0],
        [1.0, 0.9, 0.2],
        [0.2, 0.95, 0.95],
        [1.0, 0.4, 1.0],
    ],
    dtype=np.float32,
)
"""Saturated colours the shapes are drawn with (a small palette keeps a tiny autoencoder's job easy)."""


def _params(seed: int, index: int, num_shapes: int, image_size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, index])
    size = rng.uniform(0.12, 0.2, num_shapes) * image_size  # half-extent in pixels
    pos0 = rng.uniform(0, 1, (num_shapes, 2))
    angle = rng.uniform(0, 2 * np.pi, num_shapes)
    speed = rng.uniform(0.03, 0.07, num_shapes) * image_size  # pixels per frame
    return {
        "kind": rng.integers(0, len(SHAPES), num_shapes),
        "size": size,
        "pos0": pos0,
        "vel": np.stack([np.cos(angle), np.sin(angle)], 1) * speed[:, None],
        "color": PALETTE[rng.integers(0, len(PALETTE), num_shapes)],
    }


def _fold(p: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Reflect positions into [lo, hi] (elastic bounces) with a triangle wave."""
    span = hi - lo
    q = np.mod(p - lo, 2 * span)
    return lo + span - np.abs(q - span)


def render_frame(params: dict[str, np.ndarray], t: int, image_size: int) -> np.ndarray:
    """Frame ``t`` of the video described by ``params`` as float32 (3, H, W) in [0, 1]."""
    yy, xx = np.mgrid[0:image_size, 0:image_size].astype(np.float32) + 0.5
    img = np.zeros((3, image_size, image_size), np.float32)
    for i in range(len(params["kind"])):
        r = params["size"][i]
        lo, hi = np.array([r, r]), np.array([image_size - r, image_size - r])
        start = lo + params["pos0"][i] * (hi - lo)
        cx, cy = _fold(start + t * params["vel"][i], lo, hi)
        dx, dy = xx - cx, yy - cy
        kind = SHAPES[params["kind"][i]]
        if kind == "disc":
            m = dx**2 + dy**2 <= r**2
        elif kind == "square":
            m = (np.abs(dx) <= 0.8 * r) & (np.abs(dy) <= 0.8 * r)
        elif kind == "triangle":
            m = (dy <= 0.8 * r) & (dy >= -r + 2 * np.abs(dx))
        else:
            d2 = dx**2 + dy**2
            m = (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)
        img[:, m] = params["color"][i][:, None]
    return img


class MovingShapes(Dataset):
    """Videos of bouncing shapes: ``{"video": (T, 3, H, W) float in [-1, 1], "index": int}``.

    Args:
        num_videos: dataset length.
        num_frames: frames per video T.
        image_size: frame side H = W.
        num_shapes: shapes per video.
        seed: dataset seed (train and test splits use different seeds).
    """

    def __init__(
        self,
        num_videos: int = 1000,
        num_frames: int = 16,
        image_size: int = 32,
        num_shapes: int = 2,
        seed: int = 0,
    ) -> None:
        if num_videos < 1 or num_frames < 1 or image_size < 8:
            raise ValueError("MovingShapes needs num_videos >= 1, num_frames >= 1 and image_size >= 8")
        self.num_videos, self.num_frames, self.image_size = num_videos, num_frames, image_size
        self.num_shapes, self.seed = num_shapes, seed

    def __len__(self) -> int:
        return self.num_videos

    def params(self, index: int) -> dict[str, np.ndarray]:
        """Shape kinds, sizes, start positions, velocities and colours of video ``index``."""
        return _params(self.seed, index, self.num_shapes, self.image_size)

    def frame(self, index: int, t: int) -> Tensor:
        """Frame ``t`` of video ``index``: (3, H, W) in [-1, 1]."""
        return torch.from_numpy(render_frame(self.params(index), t, self.image_size)) * 2 - 1

    def __getitem__(self, index: int) -> dict[str, Tensor | int]:
        if not 0 <= index < self.num_videos:
            raise IndexError(index)
        p = self.params(index)
        video = np.stack([render_frame(p, t, self.image_size) for t in range(self.num_frames)])
        return {"video": torch.from_numpy(video) * 2 - 1, "index": index}


class MovingShapesFrames(Dataset):
    """Single frames of :class:`MovingShapes` for AE training: ``{"image": (3, H, W)}`` in [-1, 1]."""

    def __init__(self, videos: MovingShapes) -> None:
        self.videos = videos

    def __len__(self) -> int:
        return len(self.videos) * self.videos.num_frames

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        v, t = divmod(index, self.videos.num_frames)
        return {"image": self.videos.frame(v, t)}
