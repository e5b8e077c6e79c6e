"""Video prediction metrics: PSNR, SSIM, FVD (local I3D), LPIPS (local network)."""

from river_vp.metrics.fvd import I3DFeatures, frechet_distance, fvd_from_features
from river_vp.metrics.image import psnr, ssim

__all__ = ["I3DFeatures", "frechet_distance", "fvd_from_features", "psnr", "ssim"]
