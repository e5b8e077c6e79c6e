"""Fixed (sin-cos) position embedding tables for image and video ViTs."""

from __future__ import annotations

import torch
from timm.layers import build_sincos2d_pos_embed


def sincos_2d_table(grid_h: int, grid_w: int, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """Fixed 2-D sin-cos position embeddings for a ``grid_h x grid_w`` patch grid (MoCo v3 style).

    Quarter of the channels each hold sin(h), sin(w), cos(h), cos(w) with frequencies
    ``temperature ** (-i / (dim / 4))``. MoCo v3 orders the quarters (sin w, cos w, sin h, cos h) and flattens
    the grid width-major; channel order is irrelevant to the network, and we flatten row-major to match
    timm's ``PatchEmbed`` token order (token ``i`` is at row ``i // grid_w``, column ``i % grid_w``).

    Args:
        grid_h: Number of patch rows.
        grid_w: Number of patch columns.
        dim: Embedding dimension, divisible by 4.
        temperature: Frequency base.

    Returns:
        Tensor of shape ``(grid_h * grid_w, dim)``, float32.
    """
    if dim % 4:
        raise ValueError(f"sin-cos 2-D position embedding needs embed_dim divisible by 4, got {dim}")
    return build_sincos2d_pos_embed([grid_h, grid_w], dim=dim, temperature=temperature)


def sinusoid_1d_table(num_positions: int, dim: int) -> torch.Tensor:
    """The 1-D sinusoid table of the Transformer / VideoMAE over ``num_positions`` flattened tokens.

    Entry ``(p, j)`` is ``sin(p / 10000 ** (2 * (j // 2) / dim))`` for even ``j``, ``cos(...)`` for odd ``j``;
    computed in float64 like VideoMAE's numpy table so the two agree bit for bit after the float32 cast.

    Args:
        num_positions: Number of tokens (for video, ``T' * Hp * Wp`` flattened time-major).
        dim: Embedding dimension.

    Returns:
        Tensor of shape ``(num_positions, dim)``, float32.
    """
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]  # (N, 1)
    j = torch.arange(dim, dtype=torch.float64)
    angle = pos / torch.pow(
        torch.tensor(10000.0, dtype=torch.float64), 2 * torch.div(j, 2, rounding_mode="floor") / dim
    )
    table = torch.empty_like(angle)
    table[:, 0::2] = torch.sin(angle[:, 0::2])
    table[:, 1::2] = torch.cos(angle[:, 1::2])
    return table.float()
