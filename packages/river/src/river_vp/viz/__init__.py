"""Comparison frames of predicted videos and frame grids (PNG); clips are written by sparse-core."""

from river_vp.viz.video import comparison_frames, save_frame_grid, to_uint8

__all__ = ["comparison_frames", "save_frame_grid", "to_uint8"]
