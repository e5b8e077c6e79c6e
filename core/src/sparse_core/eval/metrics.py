"""Image and video reconstruction metrics: PSNR and SSIM.

SSIM follows scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False)`` (Wang et al., 2004), which is also torchmetrics' default window.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["psnr", "psnr_from_mse", "ssim"]


def psnr(
    pred: Tensor,
    target: Tensor,
    data_range: float = 1.0,
    dim: int | tuple[int, ...] | None = (-3, -2, -1),
    min_mse: float = 1e-20,
) -> Tensor:
    """Peak signal-to-noise ratio ``10 log10(data_range^2 / MSE)`` in dB, computed in float64.

    Args:
        pred: Prediction (any dtype, e.g. uint8 frames with ``data_range=255``).
        target: Reference, broadcastable with ``pred``.
        data_range: Peak-to-peak range of the signal (1 for ``[0, 1]`` images, 255 for uint8).
        dim: Dimensions the squared error is averaged over; ``None`` averages over every element.
            The default gives one value per ``(C, H, W)`` image.
        min_mse: Lower bound on the MSE. The default keeps identical images finite
            (``10 log10(data_range^2) + 200`` dB) so means over frames stay finite; ``0`` gives
            ``inf`` for identical inputs, as scikit-image and torchmetrics.

    Returns:
        PSNR in dB, float32; ``pred``'s shape without ``dim`` (a 0-d tensor for ``dim=None``).

    Shape:
        pred, target: ``(..., C, H, W)`` for the default ``dim``; returns ``(...)``.
    """
    sq = (pred.double() - target.double()) ** 2
    mse = sq.mean() if dim is None else sq.mean(dim=dim)
    return psnr_from_mse(mse, data_range, min_mse)


def psnr_from_mse(mse: Tensor | float, data_range: float = 1.0, min_mse: float = 1e-20) -> Tensor:
    """:func:`psnr` of a mean squared error already accumulated (e.g. over a video streamed in chunks).

    Args:
        mse: Mean squared error(s), any shape.
        data_range: Peak-to-peak range of the signal.
        min_mse: Lower bound on the MSE, as in :func:`psnr`.

    Returns:
        ``10 log10(data_range^2 / max(mse, min_mse))`` in dB (computed in float64), float32, ``mse``'s shape.
    """
    mse = torch.as_tensor(mse, dtype=torch.float64)
    return (10 * torch.log10(data_range**2 / mse.clamp_min(min_mse))).float()


def _gaussian_window(size: int, sigma: float, device: torch.device) -> Tensor:
    x = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(pred: Tensor, target: Tensor, data_range: float = 1.0, sigma: float = 1.5) -> Tensor:
    """Structural similarity per image (mean over channels and valid positions), in float64.

    The Gaussian window has radius ``int(3.5 sigma + 0.5)`` (11 taps for sigma 1.5); statistics are
    averaged over 'valid' positions only (scikit-image crops a border of width radius).

    Args:
        pred: Prediction.
        target: Reference, broadcastable with ``pred``.
        data_range: Peak-to-peak range of the signal.
        sigma: Standard deviation of the Gaussian window.

    Returns:
        SSIM per image, float32.

    Shape:
        pred, target: ``(..., C, H, W)`` with ``H, W >= 2 * radius + 1`` (11); returns ``(...)``.
    """
    pred, target = torch.broadcast_tensors(pred, target)
    lead = pred.shape[:-3]
    c, h, w = pred.shape[-3:]
    x = pred.reshape(-1, c, h, w).double()
    y = target.reshape(-1, c, h, w).double()
    radius = int(3.5 * sigma + 0.5)
    g = _gaussian_window(2 * radius + 1, sigma, x.device)
    kx = g.view(1, 1, 1, -1).repeat(c, 1, 1, 1)  # (C, 1, 1, K)
    ky = g.view(1, 1, -1, 1).repeat(c, 1, 1, 1)  # (C, 1, K, 1)

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(F.conv2d(t, kx, groups=c), ky, groups=c)

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx**2
    vy = blur(y * y) - my**2
    cxy = blur(x * y) - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.mean(dim=(-3, -2, -1)).float().reshape(lead)
