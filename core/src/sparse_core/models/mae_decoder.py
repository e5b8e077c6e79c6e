"""MAE's lightweight decoder: encoder tokens at their patches, mask tokens elsewhere (He et al., 2022)."""

from __future__ import annotations

import torch
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from sparse_core.models.pos_embed import sincos_2d_table

__all__ = ["MAEDecoder"]


class MAEDecoder(nn.Module):
    """Transformer decoder that predicts the pixels of every patch from the kept tokens of a sparse encoder.

    Each kept encoder token is placed at the patch given by ``keep_idx`` (its content's patch), every other
    patch gets the learned mask token, fixed 2-D sin-cos positions are added, and the prefix (CLS) token of
    the encoder joins in front without a position.

    Args:
        embed_dim: encoder width D.
        decoder_dim: decoder width Dd.
        depth: decoder blocks.
        num_heads: decoder attention heads.
        grid: patch grid (Hp, Wp) of the encoder.
        patch_dim: predicted pixels per patch (p * p * C).
        num_prefix_tokens: CLS / register tokens in front of the encoder's patch tokens.
    """

    pos_embed: Tensor

    def __init__(
        self,
        embed_dim: int,
        decoder_dim: int,
        depth: int,
        num_heads: int,
        grid: tuple[int, int],
        patch_dim: int,
        num_prefix_tokens: int = 1,
    ) -> None:
        super().__init__()
        self.num_prefix_tokens = num_prefix_tokens
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
        """Predict the pixels of every patch.

        Args:
            tokens: encoder output, prefix tokens first.
            keep_idx: patch index of each kept encoder token.

        Shape:
            tokens: (B, P + K, D); keep_idx: (B, K) long -> (B, N, patch_dim) with N = Hp * Wp.
        """
        p = self.num_prefix_tokens
        x = self.embed(tokens[:, p:])  # (B, K, Dd)
        b, _, d = x.shape
        n = self.pos_embed.shape[1]
        full = self.mask_token.expand(b, n, d).clone()
        full = full.scatter(1, keep_idx[..., None].expand(-1, -1, d), x)  # encoder tokens at their patches
        full = full + self.pos_embed.to(full.dtype)
        h = torch.cat([self.embed(tokens[:, :p]), full], dim=1)  # (B, P + N, Dd)
        return self.pred(self.norm(self.blocks(h)))[:, p:]
