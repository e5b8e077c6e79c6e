"""U-ViT vector-field regressor of RIVER (thesis sec. 5.2.4, Fig. 5.4).

Every latent position (``H/f x W/f`` of them, optionally grouped in ``patch_size``-square patches) becomes one
token built from the channel concatenation of the per-frame projections of the noisy target ``z``, the
reference ``z^{tau-1}`` and the context ``z^c``; the condition projections get an encoding of their distance
``tau - c`` added. A time token is prepended, spatial position embeddings added, and the tokens pass through
``depth_in`` ViT blocks, ``depth_mid`` middle blocks and ``depth_in`` output blocks; output block ``i``
receives the output of input block ``depth_in - 1 - i`` through a long skip (concatenation + linear). The out
projection is Linear -> GELU -> LayerNorm -> 3x3 conv.

``local_mixing="conv"`` (a named deviation; default ``"none"``, the thesis form above) adds local spatial mixing
at the latent resolution, where attention-only blocks of a small width are slow to learn translations of a
latent position or two per frame: a **convolutional stem** (two 3x3 convs on the channel concatenation
``[z, z^{tau-1}, z^c]``, as the convolutional stems of Xiao et al. 2021, "Early convolutions help transformers see
better", and U-ViT's convolutional patch embedding, Bao et al. 2023) whose features are added to the tokens, and a
**conv skip** (U-Net's long skip at full resolution, Ronneberger et al. 2015): the out projection's conv produces
``conv_width`` channels per latent position, which are concatenated with the stem's features and mapped to the
output by 3x3 conv -> GELU -> 3x3 conv.

``layout="official"`` builds the module tree of the public RIVER code instead (github.com/Araachie/river,
``model/vector_field_regressor.py``), so that its checkpoints load through
:mod:`river_vp.models.official`: one linear projection of the channel concatenation ``[z, z^{tau-1}, z^c]``;
the distance enters as ``MLP(log d)`` (Linear(1, 256) -> ReLU -> Linear(256, width)) of the *context's*
distance only, added to every token together with the positions; the time token is the fixed sinusoid of
``200 t`` (no MLP, no position); no LayerNorm before the out projection. The distance such a model receives
is the official one, ``(tau - 1) - c`` (``ConditionSpec(form="official")``, set by the loader).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from timm.models.vision_transformer import Block
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from river_vp.component_config import LAYOUTS, LOCAL_MIXING, VectorFieldConfig
from river_vp.models.embeddings import ScalarEmbedding, sinusoidal
from sparse_core.models.key_bias import hold_bias

__all__ = ["LAYOUTS", "LOCAL_MIXING", "OFFICIAL_TIME_SCALE", "VectorFieldConfig", "VectorFieldRegressor"]

OFFICIAL_TIME_SCALE = 200.0
"""Multiplier of flow time in the official code's fixed sinusoidal time token (``timestamp_embedding``)."""
OFFICIAL_DIST_HIDDEN = 256


class VectorFieldRegressor(nn.Module):
    """``v_t(z | z^{tau-1}, z^c, tau - c)`` as a U-ViT."""

    def __init__(self, cfg: VectorFieldConfig) -> None:
        super().__init__()
        if cfg.state_size % cfg.patch_size:
            raise ValueError(f"state_size {cfg.state_size} not divisible by patch_size {cfg.patch_size}")
        self.cfg = cfg
        p, c, w = cfg.patch_size, cfg.state_channels, cfg.width
        self.grid = cfg.state_size // p
        self.num_tokens = self.grid**2
        patch_dim = c * p * p
        self.official = cfg.layout == "official"
        if self.official:
            self.project_in = nn.Linear((cfg.num_conditions + 1) * patch_dim, w)
            self.dist_embed: nn.Module = nn.Sequential(
                nn.Linear(1, OFFICIAL_DIST_HIDDEN), nn.ReLU(), nn.Linear(OFFICIAL_DIST_HIDDEN, w))
            self.pos_embed = nn.Parameter(torch.zeros(1, self.num_tokens, w))  # the time token has none
        else:
            self.proj_target = nn.Linear(patch_dim, w)
            self.proj_cond = nn.Linear(patch_dim, w)
            self.dist_embed = ScalarEmbedding(w)
            self.fuse = nn.Linear((cfg.num_conditions + 1) * w, w)
            self.time_embed = ScalarEmbedding(w, scale=1000.0)
            self.pos_embed = nn.Parameter(torch.zeros(1, self.num_tokens + 1, w))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

        def block() -> Block:
            return Block(w, cfg.num_heads, mlp_ratio=cfg.mlp_ratio, qkv_bias=True)

        self.in_blocks = nn.ModuleList([block() for _ in range(cfg.depth_in)])
        self.mid_blocks = nn.ModuleList([block() for _ in range(cfg.depth_mid)])
        self.out_blocks = nn.ModuleList([block() for _ in range(cfg.depth_in)])
        for blk in (*self.in_blocks, *self.mid_blocks, *self.out_blocks):
            hold_bias(blk.attn.qkv.bias)  # key third: no effect through the softmax (sparse_core key_bias)
        self.skip_proj = nn.ModuleList([nn.Linear(2 * w, w) for _ in range(cfg.depth_in)])
        self.norm: nn.Module = nn.Identity() if self.official else nn.LayerNorm(w)
        self.out_linear = nn.Linear(w, w)
        self.out_act = nn.GELU()
        self.out_norm = nn.LayerNorm(w)
        self.conv = cfg.local_mixing == "conv"
        if self.conv:
            cw = cfg.conv_width
            self.conv_stem = nn.Sequential(nn.Conv2d((cfg.num_conditions + 1) * c, cw, 3, padding=1), nn.GELU(),
                                           nn.Conv2d(cw, cw, 3, padding=1))
            self.stem_proj = nn.Linear(cw * p * p, w)
            self.out_conv = nn.Conv2d(w, cw * p * p, 3, padding=1)
            self.skip_out = nn.Sequential(nn.Conv2d(2 * cw, cw, 3, padding=1), nn.GELU(),
                                          nn.Conv2d(cw, c, 3, padding=1))
        else:
            self.out_conv = nn.Conv2d(w, patch_dim, 3, padding=1)  # on the token grid, then unpatchified

    def no_weight_decay(self) -> set[str]:
        """Parameters excluded from weight decay."""
        return {"pos_embed"}

    def _tokens(self, z: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, N, C p^2)."""
        p = self.cfg.patch_size
        return rearrange(z, "b c (h p1) (w p2) -> b (h w) (c p1 p2)", p1=p, p2=p)

    def _run(self, blk: nn.Module, x: Tensor) -> Tensor:
        if self.cfg.grad_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(blk, x, use_reentrant=False)
        return blk(x)

    def forward(self, z: Tensor, t: Tensor, conds: Tensor, dists: Tensor) -> Tensor:
        """Predict the vector field at the noisy latent ``z``.

        Shape:
            z: (B, C, H, W) noisy target at flow time t; t: (B,) in [0, 1];
            conds: (B, n_cond, C, H, W) condition latents; dists: (B, n_cond) frame distances tau - c;
            returns (B, C, H, W).
        """
        b, n_cond = conds.shape[:2]
        if n_cond != self.cfg.num_conditions:
            raise ValueError(f"model expects {self.cfg.num_conditions} condition frames, got {n_cond}")
        stem = None
        if self.conv:
            stem = self.conv_stem(torch.cat([z[:, None], conds], dim=1).flatten(1, 2))  # (B, cw, H, W)
        x = self._official_tokens(z, t, conds, dists) if self.official else self._uvit_tokens(z, t, conds, dists)
        if stem is not None:
            x = x + F.pad(self.stem_proj(self._tokens(stem)), (0, 0, 1, 0))  # no stem term on the time token
        skips = []
        for blk in self.in_blocks:
            x = self._run(blk, x)
            skips.append(x)
        for blk in self.mid_blocks:
            x = self._run(blk, x)
        for blk, proj in zip(self.out_blocks, self.skip_proj, strict=True):
            x = proj(torch.cat([x, skips.pop()], dim=-1))
            x = self._run(blk, x)
        x = self.norm(x)[:, 1:]  # drop the time token
        x = self.out_norm(self.out_act(self.out_linear(x)))  # (B, N, W)
        x = self._out(x)  # (B, C or cw, H, W)
        if stem is not None:
            x = self.skip_out(torch.cat([x, stem], dim=1))  # (B, C, H, W)
        return x

    def _uvit_tokens(self, z: Tensor, t: Tensor, conds: Tensor, dists: Tensor) -> Tensor:
        """Time token + fused per-frame projections, each condition with its sinusoidal distance embedding.

        Shape:
            as :meth:`forward`; returns (B, 1 + N, W).
        """
        b = z.shape[0]
        x = self.proj_target(self._tokens(z))  # (B, N, W)
        cond_tok = self.proj_cond(self._tokens(conds.flatten(0, 1)))  # (B n, N, W)
        cond_tok = cond_tok + self.dist_embed(dists.flatten().to(z.dtype))[:, None]
        cond_tok = rearrange(cond_tok, "(b n) t w -> b t (n w)", b=b)
        x = self.fuse(torch.cat([x, cond_tok], dim=-1))  # (B, N, W)
        time_tok = self.time_embed(t.to(z.dtype).expand(b))[:, None]  # (B, 1, W)
        return torch.cat([time_tok, x], dim=1) + self.pos_embed

    def distance_embedding(self, dists: Tensor) -> Tensor:
        """What the official layout adds to every token for the distances: ``MLP(log d)`` of the last
        condition (the context; the official code does not encode the reference's distance).

        Shape:
            dists: (B, n_cond); returns (B, W).
        """
        if not self.official:
            raise ValueError("distance_embedding is the official layout's (model.layout 'official')")
        return self.dist_embed(torch.log(dists[:, -1].float())[:, None])

    def _official_tokens(self, z: Tensor, t: Tensor, conds: Tensor, dists: Tensor) -> Tensor:
        """The official code's tokens: ``[sin(200 t)]`` then ``Linear([z, conds...]) + pos + MLP(log d)``.

        Shape:
            as :meth:`forward`; returns (B, 1 + N, W).
        """
        b = z.shape[0]
        x = self.project_in(self._tokens(torch.cat([z[:, None], conds], dim=1).flatten(1, 2)))  # (B, N, W)
        x = x + self.pos_embed + self.distance_embedding(dists).to(x.dtype)[:, None]
        time_tok = sinusoidal(OFFICIAL_TIME_SCALE * t.float().expand(b), self.cfg.width).to(x.dtype)[:, None]
        return torch.cat([time_tok, x], dim=1)

    def _out(self, x: Tensor) -> Tensor:
        """3x3 conv of the out projection on the token grid, then patches back to latents: (B, N, W) ->
        (B, C, H, W) (local mixing 'conv': (B, conv_width, H, W), the conv skip's input)."""
        p = self.cfg.patch_size
        x = self.out_conv(rearrange(x, "b (h w) d -> b d h w", h=self.grid))  # (B, C p^2, H/p, W/p)
        return rearrange(x, "b (c p1 p2) h w -> b c (h p1) (w p2)", p1=p, p2=p)
