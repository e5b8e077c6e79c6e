"""Pixel-reconstruction targets and loss of masked autoencoders (MAE, He et al., 2022)."""

from __future__ import annotations

from einops import rearrange
from torch import Tensor

from sparse_core.distributed import global_mean

__all__ = ["patchify", "pixel_targets", "masked_pixel_loss"]


def patchify(images: Tensor, patch_size: int) -> Tensor:
    """Cut images into flattened, non-overlapping patches in token (row-major) order.

    The pixels of a patch are ordered ``(row, column, channel)``, as MAE's ``patchify``.

    Args:
        images: images whose sides are multiples of ``patch_size``.
        patch_size: patch side p.

    Shape:
        images: (B, C, H, W) -> (B, N, p * p * C) with ``N = (H / p) * (W / p)``.
    """
    return rearrange(images, "b c (h p) (w q) -> b (h w) (p q c)", p=patch_size, q=patch_size)


def pixel_targets(images: Tensor, patch_size: int, normalize: bool = True, eps: float = 1e-6) -> Tensor:
    """Reconstruction targets: the patches, each normalised by its own mean and variance when ``normalize``.

    Normalised pixels (MAE's ``norm_pix_loss``) improve representation quality; the variance is unbiased and
    ``eps`` guards flat patches.

    Shape:
        images: (B, C, H, W) -> (B, N, p * p * C).
    """
    target = patchify(images, patch_size)
    if not normalize:
        return target
    mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
    return (target - mean) / (var + eps).sqrt()


def masked_pixel_loss(
    pred: Tensor, images: Tensor, mask: Tensor, patch_size: int, normalize: bool = True, eps: float = 1e-6
) -> Tensor:
    """Mean squared error on the masked (reconstructed) patches only.

    Args:
        pred: predicted pixels of every patch.
        images: the original images.
        mask: 1 (or True) on the patches to score, the ones hidden from the encoder.
        patch_size: patch side p.
        normalize: per-patch normalised targets (:func:`pixel_targets`).
        eps: variance guard of the normalisation.

    Returns:
        Distributed-exact mean over the masked patches of the global batch of the per-patch mean squared error
        (computed in float32).

    Shape:
        pred: (B, N, p * p * C); images: (B, C, H, W); mask: (B, N) -> scalar.
    """
    target = pixel_targets(images, patch_size, normalize, eps)
    per_patch = (pred.float() - target.float()).pow(2).mean(-1)  # (B, N)
    weight = mask.to(per_patch.dtype)
    return global_mean(per_patch * weight, weight.sum())
