"""Helpers of the extraction tests: a small in-process config on the tiny one."""

from __future__ import annotations

from pathlib import Path

from scale_video.config import CONFIG_DIR, ExtractConfig
from sparse_core.config import parse_config

SMALL = ["--data.num_videos", "5", "--data.val_num_videos", "3", "--data.num_frames", "12",
         "--data.image_size", "32", "--sampling.num_clips", "4", "--sampling.num_frames", "2",
         "--sampling.frame_strides", "[1, 2]", "--sampling.size", "32", "--sampling.eval_temporal", "2",
         "--sampling.eval_spatial", "1", "--sampling.eval_stride", "2", "--shard_size", "2", "--passes", "2",
         "--backbone.batch_size", "8"]
"""Overrides of the tiny config: 5 + 3 videos of 12 frames at 32 px, 4 clips of 2 frames, shards of 2 sets."""


def _cfg(out: Path, *extra: str) -> ExtractConfig:
    """The tiny config with :data:`SMALL` and ``extra`` overrides, writing to ``out``."""
    return parse_config(ExtractConfig, ["--config", "tiny", "--out_dir", str(out), *SMALL, *extra],
                        config_dir=CONFIG_DIR / "extract")
