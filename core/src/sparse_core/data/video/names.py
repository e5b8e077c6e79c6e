"""Label names of the procedural video sources, importable without torch (configs and ``--help`` need them)."""

from __future__ import annotations

__all__ = ["LABEL_KINDS", "MOTIONS", "MOTION_SHAPES"]

MOTIONS: tuple[str, ...] = ("right", "left", "up", "down", "grow", "shrink", "rotate_cw", "rotate_ccw")
"""Motion classes of :class:`~sparse_core.data.video.MotionShapes`, in label order."""
MOTION_SHAPES: tuple[str, ...] = ("square", "triangle", "star", "cross")
"""Shape kinds of :class:`~sparse_core.data.video.MotionShapes` (no circle: its rotation would be invisible)."""
LABEL_KINDS: tuple[str, ...] = ("content", "motion")
"""What a :class:`~sparse_core.data.video.MovingFashion` item's ``"label"`` holds: the main object's garment
class or its motion (heading) class."""
