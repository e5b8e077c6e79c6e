"""Per-frame PSNR and SSIM on images in [0, 1] (SSIM as scikit-image's ``gaussian_weights=True``,
``sigma=1.5``, ``use_sample_covariance=False``, which is also torchmetrics' default)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["psnr", "ssim"]


def psnr(pred: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio per image.

    Shape:
        pred, target: (..., C, H, W); returns (...) in dB.
    """
    mse = ((pred.double() - target.double()) ** 2).mean(dim=(-3, -2, -1))
    return (10 * torch.log10(data_range**2 / mse.clamp_min(1e-20))).float()


def _gaussian_window(size: int, sigma: float, device: torch.device) -> Tensor:
    x = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(pred: Tensor, target: Tensor, data_range: float = 1.0, sigma: float = 1.5) -> Tensor:
    """Structural similarity per image (mean over channels and valid positions).

    The Gaussian window has radius ``int(3.5 sigma + 0.5)`` (11 taps for sigma 1.5); statistics are computed
    over 'valid' positions only (as scikit-image crops the border of width radius before averaging).

    Shape:
        pred, target: (..., C, H, W) with H, W >= 11 (broadcastable); returns (...).
    """
    pred, target = torch.broadcast_tensors(pred, target)
    lead = pred.shape[:-3]
    c, h, w = pred.shape[-3:]
    x = pred.reshape(-1, c, h, w).double()
    y = target.reshape(-1, c, h, w).double()
    radius = int(3.5 * sigma + 0.5)
    g = _gaussian_window(2 * radius + 1, sigma, x.device)
    kx = g.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = g.view(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(F.conv2d(t, kx, groups=c), ky, groups=c)

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx**2
    vy = blur(y * y) - my**2
    cxy = blur(x * y) - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.mean(dim=(-3, -2, -1)).float().reshape(lead)
