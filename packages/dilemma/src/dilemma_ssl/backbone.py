"""Backbone construction and the student's token-level forward pass."""

from __future__ import annotations

import timm
from torch import Tensor, nn

import sparse_core.models  # noqa: F401 - registers the sparse_vit_* timm models
from dilemma_ssl.config import ModelConfig

__all__ = ["build_backbone", "encode", "num_prefix_tokens"]


def build_backbone(
    cfg: ModelConfig, drop_path_rate: float | None = None, dynamic_img_size: bool = False
) -> nn.Module:
    """A ``SparseVisionTransformer`` without classifier, as configured (architecture fields left None keep
    the timm variant's values); ``dynamic_img_size`` lets it take DINO's smaller local crops."""
    kwargs: dict[str, object] = dict(
        dynamic_img_size=dynamic_img_size,
        pretrained=False,
        num_classes=0,
        img_size=cfg.img_size,
        patch_size=cfg.patch_size,
        drop_path_rate=cfg.drop_path_rate if drop_path_rate is None else drop_path_rate,
        pos_embed_type=cfg.pos_embed_type,
    )
    for name in ("embed_dim", "depth", "num_heads"):
        if getattr(cfg, name) is not None:
            kwargs[name] = getattr(cfg, name)
    model = timm.create_model(cfg.arch, **kwargs)
    if cfg.freeze_patch_embed:
        model.patch_embed.requires_grad_(False)
    return model


def num_prefix_tokens(backbone: nn.Module) -> int:
    """Number of CLS / register tokens in front of the patch tokens."""
    return int(getattr(backbone, "num_prefix_tokens", 1))


def encode(
    backbone: nn.Module,
    x: Tensor,
    keep_idx: Tensor | None = None,
    pos_idx: Tensor | None = None,
    no_pos: Tensor | None = None,
) -> Tensor:
    """Normed output tokens of the backbone for a (possibly sparse, mismatched) input.

    Args:
        backbone: a ``SparseVisionTransformer``.
        x: (B, C, H, W) images.
        keep_idx: (B, K) kept patch tokens (None: all).
        pos_idx: (B, K) position index of each kept token (None: its own).
        no_pos: (B, K) bool, tokens that get no position embedding at all (partial-jigsaw ablation; see
            :func:`sparse_core.models.token_ops.select_tokens`).

    Returns:
        (B, P + K, D) with the P prefix (CLS) tokens first.
    """
    return backbone.forward_features(x, keep_idx=keep_idx, pos_idx=pos_idx, no_pos=no_pos)
