"""Per-frame PSNR and SSIM on images in [0, 1]: sparse-core's (:mod:`sparse_core.eval.metrics`)."""

from sparse_core.eval.metrics import psnr, ssim

__all__ = ["psnr", "ssim"]
