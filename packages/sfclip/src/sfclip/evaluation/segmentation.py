"""Zero-shot dense segmentation: per-patch features projected into the joint space vs class prompts.

Following DenseCLIP as thesis sec. 7.3.2 does, each patch's feature is the vision tower's final attention key
(through the final norm; ``dense_features: tokens``: the final token instead), sent through the tower's own
projection (the one applied to the mean token for the image embedding) and l2-normalised; its class is the
prompt-ensemble class embedding of highest cosine similarity (without any training). Token predictions
are upsampled to pixels by nearest neighbour; the score is the mean intersection-over-union over the classes
present in the targets or the predictions, accumulated over the whole set (PASCAL VOC convention).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["dense_predict", "mean_iou"]


def dense_predict(token_emb: Tensor, class_emb: Tensor, size: tuple[int, int]) -> Tensor:
    """Per-pixel class of a grid of unit token embeddings.

    Args:
        token_emb: l2-normalised token embeddings on the patch grid.
        class_emb: l2-normalised class embeddings.
        size: output (H, W) in pixels.

    Returns:
        class index per pixel, (B, H, W) long.

    Shape:
        token_emb: (B, h, w, D); class_emb: (C, D).
    """
    logits = torch.einsum("bhwd,cd->bchw", token_emb.float(), class_emb.float())
    up = F.interpolate(logits, size=size, mode="nearest")
    return up.argmax(dim=1)


def mean_iou(pred: Tensor, target: Tensor, num_classes: int) -> dict[str, float]:
    """Mean IoU (%) over the classes with a non-empty union, intersections and unions summed over the set.

    Args:
        pred: predicted class per pixel.
        target: true class per pixel.
        num_classes: C.

    Returns:
        ``{"mIoU": %, "pixel_acc": %}``.

    Shape:
        pred, target: (B, H, W) long in [0, C).
    """
    p, t = pred.flatten().long(), target.flatten().long()
    inter = torch.bincount(t[p == t], minlength=num_classes).double()
    area_p = torch.bincount(p, minlength=num_classes).double()
    area_t = torch.bincount(t, minlength=num_classes).double()
    union = area_p + area_t - inter
    present = union > 0
    iou = inter[present] / union[present]
    return {"mIoU": float(iou.mean() * 100.0), "pixel_acc": float((p == t).double().mean() * 100.0)}
