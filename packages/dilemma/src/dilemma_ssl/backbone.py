"""Backbone construction and the student's token-level forward pass."""

from __future__ import annotations

import timm
import torch
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
        no_pos: (B, K) bool, tokens that get no position embedding at all (partial-jigsaw ablation).

    Returns:
        (B, P + K, D) with the P prefix (CLS) tokens first.
    """
    if no_pos is None:
        return backbone.forward_features(x, keep_idx=keep_idx, pos_idx=pos_idx)
    return _encode_without_positions(backbone, x, keep_idx, pos_idx, no_pos)


def _encode_without_positions(
    backbone: nn.Module, x: Tensor, keep_idx: Tensor | None, pos_idx: Tensor | None, no_pos: Tensor
) -> Tensor:
    """Forward pass where the ``no_pos`` tokens carry only their content (timm ViT internals).

    The position embedding of the removed tokens is multiplied by zero, so it keeps its autograd graph.
    """
    tokens = backbone.patch_embed(x)  # (B, N, D)
    b, n, _ = tokens.shape
    if keep_idx is None:
        keep_idx = torch.arange(n, device=x.device).expand(b, n)
    if pos_idx is None:
        pos_idx = keep_idx
    d = tokens.shape[-1]
    tokens = tokens.gather(1, keep_idx[..., None].expand(-1, -1, d))  # (B, K, D)
    pos = backbone.pos_embed
    prefix = num_prefix_tokens(backbone)
    has_prefix_pos = pos.shape[1] == n + prefix and not getattr(backbone, "no_embed_class", False)
    patch_pos = pos[:, prefix:] if has_prefix_pos else pos  # (1, N, D)
    p = patch_pos.expand(b, -1, -1).gather(1, pos_idx[..., None].expand(-1, -1, d))  # (B, K, D)
    tokens = tokens + p * (~no_pos)[..., None].to(p.dtype)
    cls = backbone.cls_token.expand(b, -1, -1)
    if has_prefix_pos:
        cls = cls + pos[:, :prefix]
    h = torch.cat([cls, tokens], dim=1)
    h = backbone.pos_drop(h)
    h = backbone.norm_pre(h)
    h = backbone.blocks(h)
    return backbone.norm(h)
