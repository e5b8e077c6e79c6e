"""MAE + DILEMMA (thesis Table 3.14): mismatched tokens in the MAE encoder, detected by the DILEMMA head on
the encoder output, plus the usual pixel-reconstruction decoder on the dropped patches.

The decoder places each encoder token at its *true* location (its content's patch), so reconstruction is
unaffected by the mismatch; only the encoder is fooled and must detect it.
"""

from __future__ import annotations

from typing import Any

import torch
from einops import rearrange
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from dilemma_ssl.backbone import build_backbone
from dilemma_ssl.base import DilemmaTaskBase, batch_views
from dilemma_ssl.config import MethodConfig, ModelConfig
from dilemma_ssl.schedule import SparsitySchedule
from sparse_core.distributed import global_mean
from sparse_core.models.pos_embed import sincos_2d_table

__all__ = ["MAEDecoder", "MAEDilemmaTask", "patchify"]


def patchify(images: Tensor, patch_size: int) -> Tensor:
    """(B, C, H, W) -> (B, N, p * p * C) pixel patches in token order."""
    return rearrange(images, "b c (h p) (w q) -> b (h w) (p q c)", p=patch_size, q=patch_size)


class MAEDecoder(nn.Module):
    """MAE's lightweight decoder: encoder tokens at their patches, mask tokens elsewhere, sin-cos positions.

    Args:
        embed_dim: encoder width D.
        decoder_dim: decoder width.
        depth: decoder blocks.
        num_heads: decoder attention heads.
        grid: patch grid (Hp, Wp).
        patch_dim: pixels per patch (p * p * C).
    """

    def __init__(
        self,
        embed_dim: int,
        decoder_dim: int,
        depth: int,
        num_heads: int,
        grid: tuple[int, int],
        patch_dim: int,
    ) -> None:
        super().__init__()
        self.embed = nn.Linear(embed_dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.register_buffer(
            "pos_embed", sincos_2d_table(grid[0], grid[1], decoder_dim)[None], persistent=False
        )
        self.blocks = nn.Sequential(
            *[Block(decoder_dim, num_heads, mlp_ratio=4.0, qkv_bias=True) for _ in range(depth)]
        )
        self.norm = nn.LayerNorm(decoder_dim)
        self.pred = nn.Linear(decoder_dim, patch_dim)

    def forward(self, tokens: Tensor, keep_idx: Tensor) -> Tensor:
        """Predict every patch.

        Shape:
            tokens: (B, 1 + K, D) encoder output with CLS first; keep_idx: (B, K) -> (B, N, patch_dim).
        """
        x = self.embed(tokens[:, 1:])  # (B, K, Dd)
        b, _, d = x.shape
        n = self.pos_embed.shape[1]
        full = self.mask_token.expand(b, n, d).clone()
        full = full.scatter(1, keep_idx[..., None].expand(-1, -1, d), x)  # encoder tokens at their patches
        full = full + self.pos_embed.to(full.dtype)
        h = torch.cat([self.embed(tokens[:, :1]), full], dim=1)
        return self.pred(self.norm(self.blocks(h)))[:, 1:]


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
        heads = max(1, method_cfg.mae_decoder_dim // 64)
        grid = tuple(self.backbone.patch_embed.grid_size)
        self.decoder = MAEDecoder(
            int(self.backbone.embed_dim),
            method_cfg.mae_decoder_dim,
            method_cfg.mae_decoder_depth,
            heads,
            grid,
            model_cfg.patch_size**2 * 3,
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
        tokens = self.student_tokens(self.backbone, x, corr)  # (B, 1 + K, D)
        pred = self.decoder(tokens, corr.keep_idx)  # (B, N, p*p*3)
        target = patchify(x, self.model_cfg.patch_size)
        if self.method_cfg.mae_norm_pix_loss:
            mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
            target = (target - mean) / (var + 1e-6).sqrt()
        per_patch = (pred.float() - target.float()).pow(2).mean(-1)  # (B, N)
        dropped = torch.ones_like(per_patch).scatter(1, corr.keep_idx, 0.0)
        recon = global_mean(per_patch * dropped, dropped.sum())
        tok, acc = self.token_loss(tokens, corr) if lam > 0 else (recon.new_zeros(()), None)
        return self.step_outputs("loss_recon", recon, lam, tok, [acc] if acc is not None else [], ratio, b)
