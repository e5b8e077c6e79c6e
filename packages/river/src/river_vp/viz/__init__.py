"""Writing predicted videos (MP4, GIF) and frame grids (PNG)."""

from river_vp.viz.video import comparison_frames, save_frame_grid, save_gif, save_mp4, to_uint8

__all__ = ["comparison_frames", "save_frame_grid", "save_gif", "save_mp4", "to_uint8"]
