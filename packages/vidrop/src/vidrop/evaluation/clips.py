"""Deterministic evaluation views: ``num_temporal`` evenly spaced clips x ``num_spatial`` crops (Table 6.6)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from vidrop.data.views import clip_to_tensor

__all__ = ["multiview_clips", "EvalClips"]


def multiview_clips(video: Tensor, num_frames: int, stride: int, size: int, num_temporal: int = 5,
                    num_spatial: int = 3) -> Tensor:
    """Cut the standard multi-view test clips from one video (VideoMAE / V-JEPA protocol).

    Temporal starts are evenly spaced over the video; each clip is resized so its short side is ``size`` and
    cropped at ``num_spatial`` evenly spaced positions along the long side (3: left/top, centre, right/bottom;
    1: centre).

    Shape:
        video ``(T, H, W, 3)`` uint8 -> ``(num_temporal * num_spatial, 3, num_frames, size, size)`` float32.
    """
    t_total, h, w, _ = video.shape
    span = (num_frames - 1) * stride + 1
    last = max(t_total - span, 0)
    starts = [round(last * (i + 0.5) / num_temporal) if num_temporal > 1 else last // 2 for i in range(num_temporal)]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    out = []
    for s in starts:
        idx = (s + torch.arange(num_frames) * stride).clamp(max=t_total - 1)
        x = video[idx].permute(0, 3, 1, 2).float()  # (T, 3, H, W)
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
        x = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)  # (T, nh, nw, 3)
        long_h = nh > nw
        extent = (nh if long_h else nw) - size
        for j in range(num_spatial):
            off = round(extent * j / (num_spatial - 1)) if num_spatial > 1 else extent // 2
            box = (off, (nw - size) // 2, size, size) if long_h else ((nh - size) // 2, off, size, size)
            out.append(clip_to_tensor(x, size, box))
    return torch.stack(out)


class EvalClips(Dataset):
    """Wrap a dataset of ``{"video": (T, H, W, 3) uint8, "label"}`` to ``{"clips": (V, 3, T, S, S), "label"}``."""

    def __init__(self, base: Dataset, num_frames: int, stride: int, size: int, num_temporal: int = 5,
                 num_spatial: int = 3) -> None:
        self.base = base
        self.kw = {"num_frames": num_frames, "stride": stride, "size": size, "num_temporal": num_temporal,
                   "num_spatial": num_spatial}

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        item = self.base[index]
        if item is None:  # corrupt video, counted by the base dataset and the collate function
            return None
        return {"clips": multiview_clips(item["video"], **self.kw), "label": item["label"]}
