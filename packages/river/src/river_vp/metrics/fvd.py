"""Fréchet Video Distance (Unterthiner et al.) with an I3D network loaded from a local TorchScript file.

No I3D weights ship with this package and none can be downloaded here: pass the path of a TorchScript I3D
(e.g. the ``i3d_torchscript.pt`` used by StyleGAN-V / common FVD code,
which maps (B, 3, T, 224, 224) videos in
[-1, 1] to 400-d logits or pooled features) to :class:`I3DFeatures`. :func:`frechet_distance` is the metric on
any features and is exact (SciPy ``sqrtm``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from torch import Tensor, nn

__all__ = ["I3DFeatures", "frechet_distance", "fvd_from_features"]


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2})`` of two Gaussians."""
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        eps = np.eye(sigma1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((sigma1 + eps) @ (sigma2 + eps))
    covmean = np.real(covmean)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fvd_from_features(real: np.ndarray | Tensor, fake: np.ndarray | Tensor) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets (N, D) (unbiased covariances)."""
    r = np.asarray(real, dtype=np.float64)
    f = np.asarray(fake, dtype=np.float64)
    return frechet_distance(r.mean(0), np.cov(r, rowvar=False), f.mean(0), np.cov(f, rowvar=False))


class I3DFeatures(nn.Module):
    """Video features from a TorchScript I3D on a local path.

    Args:
        path: TorchScript file; called as ``net(video, **call_kwargs)``.
        call_kwargs: keyword arguments of the call (StyleGAN-V's I3D takes ``rescale=False, resize=False,
            return_features=True``).
        size: spatial side frames are resized to (224 for I3D).
    """

    def __init__(self, path: str | Path, call_kwargs: dict | None = None, size: int = 224) -> None:
        super().__init__()
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"I3D TorchScript {path} not found: FVD needs I3D weights on a local path "
                "(they are not shipped and cannot be downloaded here)"
            )
        self.net = torch.jit.load(str(path), map_location="cpu").eval()
        self.call_kwargs = call_kwargs if call_kwargs is not None else {}
        self.size = size

    @torch.no_grad()
    def forward(self, video: Tensor) -> Tensor:
        """Features of videos (B, T, 3, H, W) in [-1, 1] -> (B, D)."""
        b, t = video.shape[:2]
        x = video.flatten(0, 1)
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        x = x.reshape(b, t, 3, self.size, self.size).transpose(1, 2)  # (B, 3, T, S, S)
        return self.net(x, **self.call_kwargs).flatten(1).float()
