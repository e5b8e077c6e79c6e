"""Backbone sizes of the package's own small runs, written once.

The CPU bench and the Fashion-MNIST study train the same small ViT (4 blocks, width 96, 4 heads, MoCo v3 heads
512 -> 128 with BatchNorm) at their own resolution; tests shrink it further by overriding fields.
"""

from __future__ import annotations

from typing import Any

from dilemma_ssl.config import ModelConfig

__all__ = ["SMALL_VIT", "small_vit"]

SMALL_VIT: dict[str, Any] = dict(
    arch="sparse_vit_tiny_patch16_224", embed_dim=96, depth=4, num_heads=4, proj_hidden_dim=512, proj_dim=128,
    head_norm="bn",
)
"""The small ViT's fields other than its resolution."""


def small_vit(img_size: int, patch_size: int, **overrides: Any) -> ModelConfig:
    """The small ViT at ``img_size`` px with ``patch_size`` px patches.

    Args:
        img_size: input resolution of the global views.
        patch_size: patch size in pixels (``(img_size / patch_size) ** 2`` tokens).
        **overrides: any other :class:`~dilemma_ssl.config.ModelConfig` field, replacing the preset's.

    Returns:
        the backbone config.
    """
    return ModelConfig(**{**SMALL_VIT, "img_size": img_size, "patch_size": patch_size, **overrides})
