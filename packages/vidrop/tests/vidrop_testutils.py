"""Test helpers: a tiny ViDROP config and batches of procedural clips."""

from __future__ import annotations

import torch

from sparse_core.data.collate import collate_skip_none
from sparse_core.data.video import MotionShapes
from vidrop.config import EncoderConfig, HeadConfig, ViDROPConfig, ViewsConfig
from vidrop.data.views import MultiClipViews


def tiny_config(**loss: object) -> ViDROPConfig:
    """A ViDROP config small enough for CPU unit tests (2 blocks, 48-d, 16x16 clips of 4 frames)."""
    cfg = ViDROPConfig()
    cfg.encoder = EncoderConfig(img_size=16, num_frames=4, tubelet_size=2, patch_size=4, embed_dim=48, depth=2,
                                num_heads=2, drop_path_rate=0.0)
    cfg.head = HeadConfig(out_dim=64, patch_out_dim=64, hidden_dim=64, bottleneck_dim=16)
    cfg.views = ViewsConfig(global_frames=4, global_size=16, local_frames=2, local_size=8, num_local=2,
                            frame_stride=2, global_scale=(0.6, 1.0), local_scale=(0.2, 0.5))
    cfg.tokens.drop_ratio = 0.5
    for k, v in loss.items():
        setattr(cfg.loss, k, v)
    return cfg


def make_batch(cfg: ViDROPConfig, n: int, seed: int = 0) -> dict:
    """``n`` procedural videos cut into the config's views (deterministic)."""
    torch.manual_seed(seed)
    pv = MotionShapes(n, num_frames=8, image_size=24, seed=seed)
    views = MultiClipViews(cfg.views)
    return collate_skip_none([{**views(torch.from_numpy(pv.video(i))), "label": pv.label(i)} for i in range(n)])
