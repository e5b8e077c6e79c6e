"""Convolutional building blocks of the VQGAN encoder/decoder (module names follow taming-transformers so
published checkpoints load with a plain key mapping, see :mod:`river_vp.models.checkpoints`)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from sparse_core.models.key_bias import hold_bias

__all__ = ["AttnBlock", "Downsample", "MidBlock", "ResnetBlock", "ResolutionLevel", "Upsample", "normalize"]


def normalize(channels: int) -> nn.GroupNorm:
    """GroupNorm with at least 4 channels per group and at most 32 groups (32 for the widths >= 128 of
    taming-transformers; narrow tiny models keep groups of 4 instead of degenerating into instance norm)."""
    groups = min(32, max(1, channels // 4))
    while channels % groups:
        groups -= 1
    return nn.GroupNorm(groups, channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    """Pre-activation residual block: (GN, SiLU, conv3x3) x 2 with a 1x1 shortcut when widths differ."""

    def __init__(self, in_channels: int, out_channels: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        out_channels = out_channels or in_channels
        self.norm1 = normalize(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = normalize(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: Tensor) -> Tensor:
        """(B, Cin, H, W) -> (B, Cout, H, W)."""
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return (self.nin_shortcut(x) if self.nin_shortcut is not None else x) + h


class AttnBlock(nn.Module):
    """Single-head spatial self-attention with 1x1-conv projections and a residual connection."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = normalize(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)
        hold_bias(self.k.bias, "all")  # no effect through the softmax (sparse_core.models.key_bias)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        b, c, h, w = x.shape
        y = self.norm(x)
        q, k, v = (m(y).flatten(2).transpose(1, 2)[:, None] for m in (self.q, self.k, self.v))  # (B,1,HW,C)
        out = F.scaled_dot_product_attention(q, k, v)[:, 0].transpose(1, 2).reshape(b, c, h, w)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    """Stride-2 3x3 convolution with (0, 1, 0, 1) padding."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H/2, W/2)."""
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Nearest-neighbour x2 upsampling followed by a 3x3 convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, 2H, 2W)."""
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class MidBlock(nn.Module):
    """The middle of the encoder and of the decoder: residual block, attention, residual block."""

    def __init__(self, channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, dropout)
        self.attn_1 = AttnBlock(channels)
        self.block_2 = ResnetBlock(channels, channels, dropout)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return self.block_2(self.attn_1(self.block_1(x)))


class ResolutionLevel(nn.Module):
    """One resolution level: residual blocks, each followed by attention at attention resolutions, then an
    optional 2x resampling (``downsample`` in the encoder, ``upsample`` in the decoder)."""

    def __init__(self, in_channels: int, out_channels: int, num_blocks: int, attention: bool, dropout: float = 0.0,
                 resample: str | None = None) -> None:
        """Build the level.

        Args:
            in_channels: width of the level's input.
            out_channels: width of every block's output.
            num_blocks: residual blocks.
            attention: an :class:`AttnBlock` after every residual block.
            dropout: dropout of the residual blocks.
            resample: ``"down"`` (:class:`Downsample`), ``"up"`` (:class:`Upsample`) or None after the blocks.
        """
        super().__init__()
        self.block, self.attn = nn.ModuleList(), nn.ModuleList()
        for _ in range(num_blocks):
            self.block.append(ResnetBlock(in_channels, out_channels, dropout))
            in_channels = out_channels
            if attention:
                self.attn.append(AttnBlock(out_channels))
        if resample == "down":
            self.downsample = Downsample(out_channels)
        elif resample == "up":
            self.upsample = Upsample(out_channels)
        elif resample is not None:
            raise ValueError(f"resample must be 'down', 'up' or None, got {resample!r}")

    def forward(self, h: Tensor) -> Tensor:
        """(B, Cin, H, W) -> (B, Cout, H', W') with H' = H / 2, 2 H or H."""
        for i, blk in enumerate(self.block):
            h = blk(h)
            if len(self.attn):
                h = self.attn[i](h)
        for name in ("downsample", "upsample"):
            if hasattr(self, name):
                h = getattr(self, name)(h)
        return h
