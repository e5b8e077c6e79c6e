"""Training step of the refinement network (sec. 5.2.3): refine consecutive decoded frames independently,
L2 to the ground truth, plus an optional perceptual *video* loss on the whole refined clip."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from river_vp.models.refiner import RefinementNetwork, RefinerConfig
from river_vp.models.vqgan import VQGAN
from sparse_core.engine import Task

__all__ = ["RefinementTask"]


class RefinementTask(Task):
    """Owns the refiner; the (frozen) VQGAN produces the decoded frames.

    Args:
        cfg: refiner architecture.
        vqgan: trained autoencoder (frozen, eval).
        video_loss: optional frozen network ``(refined (B,T,3,H,W), target) -> scalar`` (e.g. an I3D feature
            distance); None uses L2 only.
        video_weight: weight of ``video_loss``.
    """

    def __init__(
        self, cfg: RefinerConfig, vqgan: VQGAN, video_loss: nn.Module | None = None, video_weight: float = 1.0
    ) -> None:
        super().__init__()
        self.refiner = RefinementNetwork(cfg)
        self.vqgan = vqgan.eval().requires_grad_(False)
        self.video_loss = video_loss.eval().requires_grad_(False) if video_loss is not None else None
        self.video_weight = video_weight

    def train(self, mode: bool = True) -> RefinementTask:
        """Frozen parts stay in eval mode."""
        super().train(mode)
        self.vqgan.eval()
        if self.video_loss is not None:
            self.video_loss.eval()
        return self

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, Tensor]:
        """Loss of ``{"video": (B, T, 3, H, W) in [-1, 1]}``: frames
        1..T-1 refined from (frame t-1, decoded t).
        """
        video = batch["video"]
        b, t = video.shape[:2]
        with torch.no_grad():
            decoded = self.vqgan.decode(self.vqgan.encode(video.flatten(0, 1))).reshape(video.shape)
        refined = self.refiner(video[:, :-1].flatten(0, 1), decoded[:, 1:].flatten(0, 1)).reshape(
            b, t - 1, *video.shape[2:]
        )
        l2 = torch.mean((refined - video[:, 1:]) ** 2)
        out = {"l2": l2.detach()}
        loss = l2
        if self.video_loss is not None:
            v = self.video_loss(refined, video[:, 1:])
            loss = loss + self.video_weight * v
            out["video_loss"] = v.detach()
        out["loss"] = loss
        return out
