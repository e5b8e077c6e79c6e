"""Vision Transformer with token dropping, position override and mask tokens, on top of timm's ViT.

``SparseVisionTransformer`` subclasses ``timm.models.vision_transformer.VisionTransformer``: parameter names,
initialisation, blocks (fused SDPA attention), drop-path, gradient checkpointing and the
``forward_features`` / ``forward_head`` contract are timm's, so timm weights load one to one and, with no
``keep_idx`` / ``pos_idx`` / ``mask``, outputs equal timm's model with the same weights. What is added happens
between the patch embedding and the blocks (see :func:`sparse_core.models.token_ops.select_tokens`):

* ``keep_idx`` (B, K): only these patch tokens enter the blocks, so cost falls with K (timm ``PatchDropout``
  does the same with random indices; here the caller chooses them, e.g. with :mod:`sparse_core.masking`).
* ``pos_idx`` (B, K): the position embedding each kept token receives (DILEMMA's position mismatch).
* ``mask`` (B, N) bool: patch embeddings replaced by a learned mask token before positions are added (iBOT,
  BEiT; DINOv2 keeps its ``mask_token`` the same way, initialised to zeros).

Prefix tokens (CLS and registers) are always kept.
"""

from __future__ import annotations

from typing import Any, Literal, cast

import torch
from timm.layers import resample_abs_pos_embed
from timm.models import build_model_with_cfg, checkpoint_seq, generate_default_cfgs, register_model
from timm.models.vision_transformer import Block, VisionTransformer, checkpoint_filter_fn
from torch import Tensor, nn

from .pos_embed import sincos_2d_table
from .token_ops import attention_probs, embed_kept_patches, is_patchify_conv, select_tokens

__all__ = ["SparseVisionTransformer"]

PosEmbedType = Literal["learned", "sincos"]


class SparseVisionTransformer(VisionTransformer):
    """timm ViT whose forward takes ``keep_idx``, ``pos_idx`` and ``mask`` (see the module docstring).

    Args:
        *args: Positional arguments of ``timm``'s ``VisionTransformer``.
        mask_token: Create a learnable mask token (needed to pass ``mask``).
        pos_embed_type: ``"learned"`` (timm default) or ``"sincos"``: fixed 2-D sin-cos embeddings as in
            MoCo v3, stored in the usual ``pos_embed`` slot as a frozen parameter (prefix entries zero) so
            state dicts keep timm's layout; at other resolutions the table is recomputed, not interpolated.
        **kwargs: Keyword arguments of ``timm``'s ``VisionTransformer`` (``img_size``, ``patch_size``,
            ``embed_dim``, ``depth``, ``num_heads``, ``drop_path_rate``, ``dynamic_img_size``,
            ``reg_tokens``...).
    """

    def __init__(
        self,
        *args: Any,
        mask_token: bool = False,
        pos_embed_type: PosEmbedType = "learned",
        **kwargs: Any,
    ) -> None:
        if pos_embed_type not in ("learned", "sincos"):
            raise ValueError(f"pos_embed_type must be 'learned' or 'sincos', got {pos_embed_type!r}")
        self.pos_embed_type = pos_embed_type  # read by init_weights during super().__init__
        super().__init__(*args, **kwargs)
        if pos_embed_type == "sincos":
            if self.pos_embed is None:
                raise ValueError("pos_embed_type='sincos' needs a position embedding (pos_embed='learn')")
            self._fill_sincos()
        ref = self.patch_embed.proj.weight
        self.mask_token: nn.Parameter | None = (
            nn.Parameter(torch.zeros(1, 1, self.embed_dim, device=ref.device, dtype=ref.dtype)) if mask_token else None
        )

    # ------------------------------------------------------------------ properties
    @property
    def num_patches(self) -> int:
        """Number of patch tokens N at the configured input size."""
        return int(self.patch_embed.num_patches)

    @property
    def patch_grid(self) -> tuple[int, int]:
        """Patch grid (Hp, Wp) at the configured input size; token ``i`` is at ``(i // Wp, i % Wp)``."""
        grid = self.patch_embed.grid_size
        return int(grid[0]), int(grid[1])

    # ------------------------------------------------------------------ init / sizes
    def init_weights(self, mode: str = "", needs_reset: bool = True) -> None:
        """timm initialisation, then the fixed sin-cos table again if used."""
        super().init_weights(mode, needs_reset=needs_reset)
        if getattr(self, "pos_embed_type", "learned") == "sincos" and self.pos_embed is not None:
            self._fill_sincos()

    def _fill_sincos(self) -> None:
        assert self.pos_embed is not None
        num_prefix = self.pos_embed.shape[1] - self.num_patches
        table = sincos_2d_table(*self.patch_grid, self.embed_dim)
        with torch.no_grad():
            self.pos_embed.zero_()
            self.pos_embed[0, num_prefix:] = table.to(self.pos_embed)
        self.pos_embed.requires_grad_(False)

    def set_input_size(self, img_size: Any = None, patch_size: Any = None) -> None:
        """Change the input resolution / patch size (learned embeddings are resampled, sin-cos recomputed)."""
        super().set_input_size(img_size=img_size, patch_size=patch_size)
        if self.pos_embed_type == "sincos" and self.pos_embed is not None:
            self._fill_sincos()

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        """Parameter names excluded from weight decay (timm's set plus the mask token)."""
        return super().no_weight_decay() | {"mask_token"}

    # ------------------------------------------------------------------ embedding
    def _patch_pos_embed(self, grid: tuple[int, int]) -> tuple[Tensor | None, Tensor | None]:
        """Split ``pos_embed`` into prefix part (1, P, D) and patch part (1, Hg*Wg, D) (each may be None)."""
        if self.pos_embed is None:
            return None, None
        num_prefix = 0 if self.no_embed_class else self.num_prefix_tokens
        prefix_pos = self.pos_embed[:, :num_prefix] if num_prefix else None
        patch_pos = self.pos_embed[:, num_prefix:]
        if tuple(grid) != self.patch_grid:
            if self.pos_embed_type == "sincos":
                patch_pos = sincos_2d_table(grid[0], grid[1], self.embed_dim).to(patch_pos)[None]
            else:
                patch_pos = resample_abs_pos_embed(
                    patch_pos, new_size=list(grid), old_size=list(self.patch_grid), num_prefix_tokens=0
                )
        return prefix_pos, patch_pos

    def _pos_embed(
        self,
        x: Tensor,
        keep_idx: Tensor | None = None,
        pos_idx: Tensor | None = None,
        mask: Tensor | None = None,
        num_tokens: int | None = None,
    ) -> Tensor:
        """Select/mask patch tokens, add positions and prepend prefix tokens.

        Args:
            x: Patch embeddings. Shape ``(B, N, D)`` or ``(B, Hp, Wp, D)`` (``dynamic_img_size``); or only the
                kept ones ``(B, K, D)`` when ``num_tokens`` (N) is given.
            keep_idx, pos_idx, mask: See :meth:`forward_features`.
            num_tokens: Set when ``x`` holds only the ``keep_idx`` tokens.

        Returns:
            Shape ``(B, num_prefix_tokens + K, D)``.
        """
        if x.ndim == 4:
            batch, grid_h, grid_w, dim = x.shape
            grid = (grid_h, grid_w)
            x = x.reshape(batch, grid_h * grid_w, dim)
        else:
            grid = self.patch_grid
        prefix_pos, patch_pos = self._patch_pos_embed(grid)
        x = select_tokens(x, patch_pos, keep_idx, pos_idx, mask, self.mask_token, num_tokens)  # (B, K, D)

        prefix = []
        if self.cls_token is not None:
            prefix.append(self.cls_token.expand(x.shape[0], -1, -1))
        if self.reg_token is not None:
            prefix.append(self.reg_token.expand(x.shape[0], -1, -1))
        if prefix:
            tokens = torch.cat(prefix, dim=1)
            if prefix_pos is not None:
                tokens = tokens + prefix_pos
            x = torch.cat([tokens, x], dim=1)
        return self.pos_drop(x)

    # ------------------------------------------------------------------ forward
    def _embed(self, x: Tensor, keep_idx: Tensor | None, pos_idx: Tensor | None, mask: Tensor | None) -> Tensor:
        pe = self.patch_embed
        if (
            keep_idx is not None
            and not self.dynamic_img_size
            and not pe.dynamic_img_pad
            and pe.flatten
            and tuple(x.shape[-2:]) == tuple(pe.img_size)
            and is_patchify_conv(pe.proj)
        ):
            # only the kept patches are embedded (the conv as a matmul), so cost falls with K here too
            tokens = pe.norm(embed_kept_patches(x, pe.proj, keep_idx))  # (B, K, D)
            x = self._pos_embed(tokens, keep_idx, pos_idx, mask, num_tokens=self.num_patches)
        else:
            x = self._pos_embed(pe(x), keep_idx=keep_idx, pos_idx=pos_idx, mask=mask)
        x = self.patch_drop(x)
        return self.norm_pre(x)

    def forward_features(  # type: ignore[override]
        self,
        x: Tensor,
        keep_idx: Tensor | None = None,
        pos_idx: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """Embed, drop/mask tokens, run the blocks and the final norm.

        Args:
            x: Images. Shape ``(B, C, H, W)``.
            keep_idx: Patch tokens to keep (order preserved); the others never enter the blocks.
                Shape ``(B, K)`` long.
            pos_idx: Position embedding index of each kept token; defaults to ``keep_idx``.
                Shape ``(B, K)`` long.
            mask: True where the patch embedding is replaced by the mask token, before positions are added.
                Shape ``(B, N)`` bool over all patches (or ``(B, K)`` over the kept tokens when ``K != N``).

        Returns:
            Normed tokens, prefix tokens first. Shape ``(B, num_prefix_tokens + K, D)``.
        """
        x = self._embed(x, keep_idx, pos_idx, mask)
        if self.grad_checkpointing and not torch.jit.is_scripting():
            x = checkpoint_seq(self.blocks, x)
        else:
            x = self.blocks(x)
        return self.norm(x)

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        keep_idx: Tensor | None = None,
        pos_idx: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """``forward_head(forward_features(x, ...))``: logits ``(B, num_classes)`` or pooled ``(B, D)``."""
        return self.forward_head(self.forward_features(x, keep_idx=keep_idx, pos_idx=pos_idx, mask=mask))

    def get_last_selfattention(
        self,
        x: Tensor,
        keep_idx: Tensor | None = None,
        pos_idx: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """Attention probabilities of the last block (DINO's attention maps; row 0 is the CLS query).

        All blocks but the last run as usual; the last block's attention is computed explicitly.

        Args:
            x, keep_idx, pos_idx, mask: As in :meth:`forward_features`.

        Returns:
            Shape ``(B, heads, T, T)`` with ``T = num_prefix_tokens + K``.
        """
        x = self._embed(x, keep_idx, pos_idx, mask)
        for blk in self.blocks[:-1]:
            x = blk(x)
        last = cast(Block, self.blocks[-1])
        return attention_probs(last.attn, last.norm1(x))


# ---------------------------------------------------------------------- timm registry
def _filter_fn(state_dict: dict[str, Tensor], model: SparseVisionTransformer) -> dict[str, Tensor]:
    """timm's checkpoint filter (prefixes, resampling) plus our extras.

    The mask token is kept out of timm's filter (which would take it for a DINOv2 checkpoint); if the
    checkpoint has none, the model's freshly initialised token is used. A sin-cos model keeps its own fixed
    table.
    """
    state_dict = dict(state_dict.get("model", state_dict))
    mask_token = state_dict.pop("mask_token", None)
    out = checkpoint_filter_fn(state_dict, model)
    if model.mask_token is not None:
        src = mask_token if mask_token is not None else model.mask_token.detach()
        out["mask_token"] = src.reshape(model.mask_token.shape).clone()
    if model.pos_embed_type == "sincos" and model.pos_embed is not None:
        out["pos_embed"] = model.pos_embed.detach().clone()
    return out


def _create(variant: str, pretrained: bool = False, **kwargs: Any) -> SparseVisionTransformer:
    """Build a registered variant.

    No weights are hosted for these names: ``pretrained=True`` only loads a local file given as
    ``pretrained_cfg_overlay=dict(file=path)`` (.safetensors or .pth).
    """
    out_indices = kwargs.pop("out_indices", 3)
    return build_model_with_cfg(
        SparseVisionTransformer,
        variant,
        pretrained,
        pretrained_filter_fn=_filter_fn,
        feature_cfg=dict(out_indices=out_indices, feature_cls="getter"),
        **kwargs,
    )


def _cfg(**kwargs: Any) -> dict[str, Any]:
    return {
        "url": "",
        "num_classes": 1000,
        "input_size": (3, 224, 224),
        "pool_size": None,
        "crop_pct": 0.9,
        "interpolation": "bicubic",
        "fixed_input_size": True,
        "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225),
        "first_conv": "patch_embed.proj",
        "classifier": "head",
        **kwargs,
    }


_SIZES = {
    "tiny": dict(embed_dim=192, depth=12, num_heads=3),
    "small": dict(embed_dim=384, depth=12, num_heads=6),
    "base": dict(embed_dim=768, depth=12, num_heads=12),
    "large": dict(embed_dim=1024, depth=24, num_heads=16),
}

default_cfgs = generate_default_cfgs({f"sparse_vit_{size}_patch{p}_224": _cfg() for size in _SIZES for p in (14, 16)})


def _make(size: str, patch: int, pretrained: bool, kwargs: dict[str, Any]) -> SparseVisionTransformer:
    args = dict(patch_size=patch, img_size=224, **_SIZES[size])
    return _create(f"sparse_vit_{size}_patch{patch}_224", pretrained=pretrained, **dict(args, **kwargs))


@register_model
def sparse_vit_tiny_patch16_224(pretrained: bool = False, **kwargs: Any) -> SparseVisionTransformer:
    """ViT-Ti/16 (192 wide, 12 deep, 3 heads) with token dropping."""
    return _make("tiny", 16, pretrained, kwargs)


@register_model
def sparse_vit_tiny_patch14_224(pretrained: bool = False, **kwargs: Any) -> SparseVisionTransformer:
    """ViT-Ti/14 (192 wide, 12 deep, 3 heads) with token dropping."""
    return _make("tiny", 14, pretrained, kwargs)


@register_model
def sparse_vit_small_patch16_224(pretrained: bool = False, **kwargs: Any) -> SparseVisionTransformer:
    """ViT-S/16 (384 wide, 12 deep, 6 heads) with token dropping."""
    return _make("small", 16, pretrained, kwargs)


@register_model
def sparse_vit_small_patch14_224(pretrained: bool = False, **kwargs: Any) -> SparseVisionTransformer:
    """ViT-S/14 (384 wide, 12 deep, 6 heads) with token dropping."""
    return _make("small", 14, pretrained, kwargs)


@register_model
def sparse_vit_base_patch16_224(pretrained: bool = False, **kwargs: Any) -> SparseVisionTransformer:
    """ViT-B/16 (768 wide, 12 deep, 12 heads) with token dropping."""
    return _make("base", 16, pretrained, kwargs)


@register_model
def sparse_vit_base_patch14_224(pretrained: bool = False, **kwargs: Any) -> SparseVisionTransformer:
    """ViT-B/14 (768 wide, 12 deep, 12 heads) with token dropping."""
    return _make("base", 14, pretrained, kwargs)


@register_model
def sparse_vit_large_patch16_224(pretrained: bool = False, **kwargs: Any) -> SparseVisionTransformer:
    """ViT-L/16 (1024 wide, 24 deep, 16 heads) with token dropping."""
    return _make("large", 16, pretrained, kwargs)


@register_model
def sparse_vit_large_patch14_224(pretrained: bool = False, **kwargs: Any) -> SparseVisionTransformer:
    """ViT-L/14 (1024 wide, 24 deep, 16 heads) with token dropping."""
    return _make("large", 14, pretrained, kwargs)
