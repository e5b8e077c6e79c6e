"""Optional refinement network (thesis sec. 5.2.3): an RCAN-style residual-in-residual network with channel
attention, in pixel space, that takes the previous frame and the decoded next frame and returns a refined
next frame (temporally more consistent than per-frame VQGAN decoding)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sparse_core.validation import check_int

__all__ = ["RefinerConfig", "RefinementNetwork"]


@dataclass
class RefinerConfig:
    """Architecture of the refinement network."""

    channels: int = 64
    """Feature width of every convolution
    (>= 1; RCAN: 64)."""
    num_groups: int = 5
    """Residual groups, each closed by a convolution and a long skip (>= 1)."""
    blocks_per_group: int = 10
    """Residual channel-attention blocks per group (>= 1)."""
    reduction: int = 16
    """Channel-attention bottleneck reduction: the squeeze layer has max(1, channels // reduction) channels
    (>= 1; RCAN: 16)."""

    def __post_init__(self) -> None:
        """Refuse non-positive sizes, naming the ``refiner.*`` key (ConfigError on the first bad field)."""
        for name in ("channels", "num_groups", "blocks_per_group", "reduction"):
            check_int(f"refiner.{name}", getattr(self, name), 1)


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation gating of channels."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return x * self.gate(x)


class RCAB(nn.Module):
    """Residual channel-attention block: conv, ReLU, conv, channel attention, residual."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(True),
            nn.Conv2d(channels, channels, 3, padding=1),
            ChannelAttention(channels, reduction),
        )

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return x + self.body(x)


class RefinementNetwork(nn.Module):
    """``refined = decoded + net([previous, decoded])`` on frames in [-1, 1]."""

    def __init__(self, cfg: RefinerConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.head = nn.Conv2d(6, c, 3, padding=1)
        groups: list[nn.Module] = []
        for _ in range(cfg.num_groups):
            body = [RCAB(c, cfg.reduction) for _ in range(cfg.blocks_per_group)]
            groups.append(_Residual(nn.Sequential(*body, nn.Conv2d(c, c, 3, padding=1))))
        self.body = nn.Sequential(*groups, nn.Conv2d(c, c, 3, padding=1))
        self.tail = nn.Conv2d(c, 3, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, previous: Tensor, decoded: Tensor) -> Tensor:
        """Refine ``decoded`` (B, 3, H, W) given ``previous`` (B, 3, H, W); starts as the identity."""
        h = self.head(torch.cat([previous, decoded], dim=1))
        return decoded + self.tail(h + self.body(h))


class _Residual(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)
