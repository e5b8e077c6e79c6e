"""Procedural long-video understanding (LVU-like): a question about the whole video, not about any clip.

:class:`ShotShapes` videos are ``num_shots`` shots of ``shot_frames`` frames, each rendered as one segment of
:func:`~sparse_core.data.video.procedural.render_motion_clip` (one shape over a textured background, with a
random motion, colour, size, texture, position and angle) whose shape kind is chosen per shot. The label is
a property of the set of shots (:data:`SHOT_TASKS`):

* ``"distinct"``: how many different shape kinds the video shows (classes ``"1"`` .. ``str(num_shots)``,
  balanced: label ``index % num_shots``, then the kinds are drawn uniformly among the assignments with that
  many distinct kinds, each kind at least once). Every single shot's kind is uniform over
  :data:`~sparse_core.data.video.procedural.MOTION_SHAPES` whatever the label, so **one clip carries no
  information on the class**, and neither does its motion; only a comparison of what different shots show
  does. It plays the part of the long-form tasks of LVU (Wu & Krähenbühl, 2021), which the SCALE thesis
  (sec. 4.3) uses to show what an aggregator over clip features adds to per-clip features.

Every video is a pure function of ``(seed, index)``, in the canonical ``(T, H, W, 3)`` uint8 layout.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from sparse_core.data.video.procedural import MOTION_SHAPES, MOTIONS, render_motion_clip

__all__ = ["SHOT_TASKS", "ShotShapes"]

SHOT_TASKS: tuple[str, ...] = ("distinct",)
"""Whole-video questions of :class:`ShotShapes`."""


class ShotShapes(Dataset[dict[str, Any]]):
    """Multi-shot procedural videos whose label is a question about all shots together.

    Items are ``{"video": (num_shots * shot_frames, S, S, 3) uint8 tensor, "label": int, "index": int}``.

    Args:
        num_videos: Dataset length.
        num_shots: Shots per video (2 .. number of shape kinds).
        shot_frames: Frames per shot.
        image_size: Frame side ``S``.
        seed: Video ``i`` is rendered from ``numpy.random.default_rng([seed, i])``.
        task: One of :data:`SHOT_TASKS`.
        radius_range: Circumradius range of the shapes, fractions of ``S`` (:func:`render_motion_clip`).
    """

    def __init__(
        self,
        num_videos: int,
        num_shots: int = 3,
        shot_frames: int = 16,
        image_size: int = 64,
        seed: int = 0,
        task: str = "distinct",
        radius_range: tuple[float, float] = (0.2, 0.3),
    ) -> None:
        if task not in SHOT_TASKS:
            raise ValueError(f"unknown task {task!r}; choose from {', '.join(SHOT_TASKS)}")
        if not 2 <= num_shots <= len(MOTION_SHAPES):
            raise ValueError(f"num_shots must be in 2..{len(MOTION_SHAPES)}, got {num_shots}")
        if num_videos < 1 or shot_frames < 1 or image_size < 8:
            raise ValueError("ShotShapes needs num_videos >= 1, shot_frames >= 1 and image_size >= 8")
        self.num_videos, self.num_shots, self.shot_frames = num_videos, num_shots, shot_frames
        self.image_size, self.seed, self.task = image_size, seed, task
        self.radius_range = (float(radius_range[0]), float(radius_range[1]))
        self.num_frames = num_shots * shot_frames
        self.classes: tuple[str, ...] = tuple(str(k) for k in range(1, num_shots + 1))
        # every assignment of kinds to shots, grouped by its number of distinct kinds
        kinds = range(len(MOTION_SHAPES))
        self._by_distinct = {k: [a for a in itertools.product(kinds, repeat=num_shots) if len(set(a)) == k]
                             for k in range(1, num_shots + 1)}

    def __len__(self) -> int:
        """Number of videos."""
        return self.num_videos

    def label(self, index: int) -> int:
        """Class of video ``index`` (``distinct``: number of distinct kinds minus one)."""
        return index % self.num_shots

    def kinds(self, index: int) -> tuple[int, ...]:
        """Shape kind (index into :data:`MOTION_SHAPES`) of each shot of video ``index``."""
        options = self._by_distinct[self.label(index) + 1]
        rng = np.random.default_rng([self.seed, index, 1])  # apart from the rendering stream
        return options[int(rng.integers(len(options)))]

    def video(self, index: int) -> np.ndarray:
        """Video ``index`` as ``(num_shots * shot_frames, S, S, 3)`` uint8."""
        if not 0 <= index < self.num_videos:
            raise IndexError(f"index {index} out of range for {self.num_videos} videos")
        rng = np.random.default_rng([self.seed, index])
        shots = [render_motion_clip(MOTIONS[int(rng.integers(len(MOTIONS)))], rng, self.shot_frames,
                                    self.image_size, radius_range=self.radius_range, kind=MOTION_SHAPES[k])
                 for k in self.kinds(index)]
        return np.concatenate(shots)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """``{"video", "label", "index"}`` of video ``index``."""
        return {"video": torch.from_numpy(self.video(index)), "label": self.label(index), "index": index}
