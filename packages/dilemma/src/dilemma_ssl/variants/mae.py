"""MAE + DILEMMA (thesis Table 3.14): mismatched tokens in the MAE encoder, detected by the DILEMMA head on
the encoder output, plus the usual pixel-reconstruction decoder on the dropped patches.

The decoder places each encoder token at its *true* location (its content's patch), so reconstruction is
unaffected by the mismatch; only the encoder is fooled and must detect it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from dilemma_ssl.backbone import build_backbone, num_prefix_tokens
from dilemma_ssl.base import DilemmaTaskBase, batch_views
from dilemma_ssl.config import MethodConfig, ModelConfig
from dilemma_ssl.schedule import SparsitySchedule
from sparse_core.losses import masked_pixel_loss
from sparse_core.models.mae_decoder import MAEDecoder

__all__ = ["MAEDilemmaTask"]


class MAEDilemmaTask(DilemmaTaskBase):
    """MAE whose encoder input carries mismatched positions, with the DILEMMA head on the encoder tokens."""

    def __init__(
        self, model_cfg: ModelConfig, method_cfg: MethodConfig, schedule: SparsitySchedule, seed: int = 0
    ) -> None:
        super().__init__(model_cfg, method_cfg, schedule, seed)
        if method_cfg.objective == "flip_detection":
            raise ValueError("flip_detection would corrupt the reconstruction targets; use mocov3 for it")
        self.backbone = build_backbone(model_cfg)
        self._init_objective(self.backbone)
        mae = method_cfg.mae
        grid = tuple(self.backbone.patch_embed.grid_size)
        self.decoder = MAEDecoder(
            int(self.backbone.embed_dim),
            mae.decoder_dim,
            mae.decoder_depth,
            max(1, mae.decoder_dim // 64),
            (int(grid[0]), int(grid[1])),
            model_cfg.patch_size**2 * 3,
            num_prefix_tokens=num_prefix_tokens(self.backbone),
        )

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, Tensor]:
        """Reconstruction of the dropped patches (normalised pixels) + lambda * token loss (first view)."""
        x = (
            batch_views(batch)[0]
            if ("views" in batch or isinstance(batch.get("image"), list))
            else batch["image"]
        )
        b = x.shape[0]
        ratio = self.schedule.ratio(step)
        lam = self.token_weight(ratio)
        corr = self.draw_tokens(step, 0, b, ratio, x.device)
        tokens = self.student_tokens(self.backbone, x, corr)  # (B, P + K, D)
        pred = self.decoder(tokens, corr.keep_idx)  # (B, N, p*p*3)
        dropped = torch.ones(pred.shape[:2], device=pred.device).scatter(1, corr.keep_idx, 0.0)  # (B, N)
        recon = masked_pixel_loss(pred, x, dropped, self.model_cfg.patch_size, self.method_cfg.mae.norm_pix_loss)
        tok, acc = self.token_loss(tokens, corr) if lam > 0 else (recon.new_zeros(()), None)
        return self.step_outputs("loss_recon", recon, lam, tok, [acc] if acc is not None else [], ratio, b)
