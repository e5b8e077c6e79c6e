"""A fixed-window baseline for the benchmarks: a vector field that conditions on *all* past frames at every
evaluation by appending their tokens to the sequence (as video
transformers / fixed-window diffusion models do).
Its cost grows with the number of past frames; RIVER's stays at two condition frames."""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor

from river_vp.models.uvit import VectorFieldConfig, VectorFieldRegressor

__all__ = ["AllPastVectorField"]


class AllPastVectorField(VectorFieldRegressor):
    """Same blocks as RIVER's U-ViT; tokens = [time, target (N), past frame 1 (N), ..., past frame K (N)]."""

    def __init__(self, cfg: VectorFieldConfig) -> None:
        super().__init__(cfg)
        self.fuse = torch.nn.Identity()  # conditions are tokens, not channels

    def forward(self, z: Tensor, t: Tensor, conds: Tensor, dists: Tensor) -> Tensor:  # type: ignore[override]
        """Shape: z (B, C, H, W); conds (B, K, C, H, W) all past frames; dists (B, K); out (B, C, H, W)."""
        b, k = conds.shape[:2]
        n = self.num_tokens
        x = self.proj_target(self._tokens(z)) + self.pos_embed[:, 1:]
        c = self.proj_cond(self._tokens(conds.flatten(0, 1))) + self.pos_embed[:, 1:]
        c = c + self.dist_embed(dists.flatten().to(z.dtype))[:, None]
        c = rearrange(c, "(b k) n w -> b (k n) w", b=b)
        time_tok = self.time_embed(t.to(z.dtype).expand(b))[:, None] + self.pos_embed[:, :1]
        x = torch.cat([time_tok, x, c], dim=1)
        skips = []
        for blk in self.in_blocks:
            x = blk(x)
            skips.append(x)
        for blk in self.mid_blocks:
            x = blk(x)
        for blk, proj in zip(self.out_blocks, self.skip_proj, strict=True):
            x = blk(proj(torch.cat([x, skips.pop()], dim=-1)))
        x = self.out_norm(self.out_act(self.out_linear(self.norm(x)[:, 1 : 1 + n])))
        return self._out(x)
