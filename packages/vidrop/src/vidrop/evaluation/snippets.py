"""Per-snippet features for temporal action detection heads (THUMOS14 / ActionFormer-style feature files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from vidrop.data.views import clip_to_tensor
from vidrop.model import ViDROPEncoder

__all__ = ["snippet_features", "export_snippet_features"]


@torch.no_grad()
def snippet_features(encoder: ViDROPEncoder, video: Tensor, num_frames: int, frame_stride: int, size: int,
                     snippet_stride: int, batch_size: int = 16, kind: str = "cls+avg") -> Tensor:
    """Features of clips starting every ``snippet_stride`` frames (centre crop, short side resized to ``size``).

    Shape:
        video ``(T, H, W, 3)`` uint8 -> ``(num_snippets, D_feat)`` float32, snippet ``i`` starting at frame
        ``i * snippet_stride``.
    """
    t_total, h, w, _ = video.shape
    span = (num_frames - 1) * frame_stride + 1
    starts = list(range(0, max(t_total - span, 0) + 1, snippet_stride))
    side = min(h, w)
    box = ((h - side) // 2, (w - side) // 2, side, side)
    device = next(encoder.parameters()).device
    feats = []
    encoder.eval()
    for i in range(0, len(starts), batch_size):
        clips = [clip_to_tensor(video[(s + torch.arange(num_frames) * frame_stride).clamp(max=t_total - 1)], size, box)
                 for s in starts[i:i + batch_size]]
        feats.append(encoder.features(torch.stack(clips).to(device), kind).float().cpu())
    return torch.cat(feats)


def export_snippet_features(encoder: ViDROPEncoder, videos: dict[str, Tensor], out_dir: str | Path,
                            num_frames: int, frame_stride: int, size: int, snippet_stride: int) -> list[Path]:
    """Write ``out_dir/<video id>.npy`` of shape ``(num_snippets, D)`` float32 for each video."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for vid, video in videos.items():
        f = snippet_features(encoder, video, num_frames, frame_stride, size, snippet_stride)
        paths.append(out_dir / f"{vid}.npy")
        np.save(paths[-1], f.numpy())
    return paths
