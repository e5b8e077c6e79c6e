"""A pluggable perceptual distance loaded from a local TorchScript file (e.g. an exported LPIPS network).

No perceptual weights ship with this package or can be downloaded here; with ``path=None`` the loss is
disabled (weight 0), which is what the tiny configs use.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ["PerceptualLoss"]


class PerceptualLoss(nn.Module):
    """``mean(net(x, y))`` where ``net`` maps two image batches in [-1, 1]
    to per-sample distances (B,) or (B,1,1,1).

    Args:
        path: TorchScript file of the perceptual network, or None (disabled: returns 0).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        super().__init__()
        self.net: nn.Module | None = None
        if path is not None:
            if not Path(path).is_file():
                raise FileNotFoundError(f"perceptual network {path} not found (weights are never downloaded)")
            net = torch.jit.load(str(path), map_location="cpu").eval()
            for p in net.parameters():
                p.requires_grad_(False)
            self.net = net

    @property
    def enabled(self) -> bool:
        """Whether a network is loaded."""
        return self.net is not None

    def train(self, mode: bool = True) -> PerceptualLoss:
        """Keep the frozen network in eval mode."""
        super().train(mode)
        if self.net is not None:
            self.net.eval()
        return self

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Mean perceptual distance of two (B, 3, H, W) batches; 0 when disabled."""
        if self.net is None:
            return x.new_zeros(())
        return self.net(x, y).float().mean()
