"""Sinusoidal embeddings of flow time and of frame distances."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["ScalarEmbedding", "sinusoidal"]


def sinusoidal(x: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal features of real scalars (as transformer position / diffusion time embeddings).

    Shape:
        x: (B,) float or long; returns (B, dim).
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=x.device, dtype=torch.float32) / half)
    args = x.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class ScalarEmbedding(nn.Module):
    """Sinusoidal features of a scalar followed by a 2-layer MLP.

    Args:
        dim: output width.
        scale: multiplies the input before the sinusoid (1000 maps flow time t in [0, 1] to a useful range).
    """

    def __init__(self, dim: int, scale: float = 1.0, freq_dim: int = 256) -> None:
        super().__init__()
        self.scale = scale
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        """Embed ``x`` (B,) -> (B, dim)."""
        return self.mlp(sinusoidal(x * self.scale, self.freq_dim))
