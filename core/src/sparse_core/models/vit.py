"""Vision Transformer with token dropping, position override and mask tokens, on top of timm's ViT.

``SparseVisionTransformer`` subclasses ``timm.models.vision_transformer.VisionTransformer``: parameter names,
initialisation, blocks (fused SDPA attention), drop-path, gradient checkpointing and the
``forward_features`` / ``forward_head`` contract are timm's, so timm weights load one to one and, with no
``keep_idx`` / ``pos_idx`` / ``mask``, outputs equal timm's model with the same weights. What is added happens
between the patch embedding and the blocks (see :func:`sparse_core.models.token_ops.select_tokens`):

* ``keep_idx`` (B, K): only these patch tokens are embedded and enter the blocks, so cost falls with K (timm
  ``PatchDropout`` does the same with random indices after embedding every patch; here the caller chooses
  them, e.g. with :mod:`sparse_core.masking`).
* ``pos_idx`` (B, K): the position embedding each kept token receives (DILEMMA's position mismatch).
* ``mask`` (B, N) bool: patch embeddings replaced by a learned mask token before positions are added (iBOT,
  BEiT; DINOv2 keeps its ``mask_token`` the same way, initialised to zeros).
* ``no_pos`` (B, K) bool: kept tokens that get no position embedding (DILEMMA's partial-jigsaw ablation).

The forward itself (blocks, final norm, last-block attention) is :class:`~.sparse_forward.SparseForwardMixin`'s.
Prefix tokens (CLS and registers) are always kept.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from timm.layers import resample_abs_pos_embed
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models.vision_transformer import VisionTransformer, checkpoint_filter_fn
from torch import Tensor, nn

from .pos_embed import sincos_2d_table
from .sparse_forward import SparseForwardMixin
from .token_ops import embed_kept_patches, is_patchify_conv, select_tokens

__all__ = ["SparseVisionTransformer"]

PosEmbedType = Literal["learned", "sincos"]


class SparseVisionTransformer(SparseForwardMixin, VisionTransformer):  # type: ignore[misc]  # adds token args
    """timm ViT whose forward takes ``keep_idx``, ``pos_idx``, ``mask`` and ``no_pos`` (see the module docstring).

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
        """Initialise as timm does, then fill the fixed sin-cos table again if used.

        Args:
            mode: timm's init mode (``"jax"``, ``"jax_nlhb"``, ``"moco"``; ``""`` takes the model's
                ``weight_init_mode``).
            needs_reset: call ``reset_parameters()`` on the submodules that have it (False when they already
                initialised themselves).
        """
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

    def _pos_embed(  # type: ignore[override]
        self, x: Tensor, keep_idx: Tensor | None = None, pos_idx: Tensor | None = None, mask: Tensor | None = None,
        no_pos: Tensor | None = None,
        grid: tuple[int, int] | None = None,
    ) -> Tensor:
        """Select/mask patch tokens, add positions and prepend prefix tokens.

        Args:
            x: Patch embeddings. Shape ``(B, N, D)`` or ``(B, Hp, Wp, D)`` (``dynamic_img_size``); or only the
                kept ones ``(B, K, D)`` when ``grid`` (the full patch grid) is given.
            keep_idx: Patch tokens to keep (order preserved), as in :meth:`forward_features`.
                Shape ``(B, K)`` long.
            pos_idx: Position embedding index of each kept token (default ``keep_idx``). Shape ``(B, K)`` long.
            mask: True where the patch embedding is replaced by the mask token, before positions are added.
                Shape ``(B, N)`` or ``(B, K)`` bool.
            no_pos: True where a kept token gets no position embedding. Shape ``(B, K)`` bool.
            grid: Patch grid ``(Hp, Wp)`` of the image, set when ``x`` holds only the ``keep_idx`` tokens.

        Returns:
            Shape ``(B, num_prefix_tokens + K, D)``.
        """
        num_tokens = None
        if grid is not None:
            num_tokens = grid[0] * grid[1]
        elif x.ndim == 4:
            batch, grid_h, grid_w, dim = x.shape
            grid = (grid_h, grid_w)
            x = x.reshape(batch, grid_h * grid_w, dim)
        else:
            grid = self.patch_grid
        prefix_pos, patch_pos = self._patch_pos_embed(grid)
        x = select_tokens(x, patch_pos, keep_idx, pos_idx, mask, self.mask_token, num_tokens, no_pos)  # (B, K, D)

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
    def _kept_patch_grid(self, x: Tensor) -> tuple[int, int] | None:
        """Patch grid of ``x`` if its kept patches can be embedded alone (the conv as a matmul), else None."""
        pe = self.patch_embed
        size = (x.shape[-2], x.shape[-1])
        if not is_patchify_conv(pe.proj):
            return None
        if not self.dynamic_img_size:
            return self.patch_grid if pe.flatten and size == tuple(pe.img_size) else None
        if not pe.dynamic_img_pad and (size[0] % pe.patch_size[0] or size[1] % pe.patch_size[1]):
            return None  # timm's PatchEmbed raises for this input
        grid = pe.dynamic_feat_size(size)
        return int(grid[0]), int(grid[1])

    def _prepare_tokens(
        self, x: Tensor, keep_idx: Tensor | None, pos_idx: Tensor | None, mask: Tensor | None, no_pos: Tensor | None
    ) -> Tensor:
        pe = self.patch_embed
        grid = self._kept_patch_grid(x) if keep_idx is not None else None
        if keep_idx is not None and grid is not None:
            # only the kept patches are embedded (the conv as a matmul), so cost falls with K here too
            if pe.dynamic_img_pad:
                pad_h = -x.shape[-2] % pe.patch_size[0]
                pad_w = -x.shape[-1] % pe.patch_size[1]
                x = F.pad(x, (0, pad_w, 0, pad_h))
            tokens = pe.norm(embed_kept_patches(x, pe.proj, keep_idx))  # (B, K, D)
            x = self._pos_embed(tokens, keep_idx, pos_idx, mask, no_pos, grid=grid)
        else:
            x = self._pos_embed(pe(x), keep_idx, pos_idx, mask, no_pos)
        x = self.patch_drop(x)
        return self.norm_pre(x)


# ---------------------------------------------------------------------- timm registry
def _filter_fn(state_dict: dict[str, Tensor], model: SparseVisionTransformer) -> dict[str, Tensor]:
    """Apply timm's checkpoint filter (prefixes, resampling) plus our extras.

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


_ABBREV = {"tiny": "Ti", "small": "S", "base": "B", "large": "L"}


def _make(size: str, patch: int, pretrained: bool, kwargs: dict[str, Any]) -> SparseVisionTransformer:
    args = dict(patch_size=patch, img_size=224, **_SIZES[size])
    return _create(f"sparse_vit_{size}_patch{patch}_224", pretrained=pretrained, **dict(args, **kwargs))


def _register(size: str, patch: int) -> None:
    """Register the timm entry point ``sparse_vit_{size}_patch{patch}_224`` (a module attribute too)."""
    name = f"sparse_vit_{size}_patch{patch}_224"

    def entry(pretrained: bool = False, **kwargs: Any) -> SparseVisionTransformer:
        return _make(size, patch, pretrained, kwargs)

    dims = _SIZES[size]
    entry.__name__ = entry.__qualname__ = name
    entry.__doc__ = (f"ViT-{_ABBREV[size]}/{patch} ({dims['embed_dim']} wide, {dims['depth']} deep, "
                     f"{dims['num_heads']} heads) with token dropping.")
    globals()[name] = register_model(entry)


for _size in _SIZES:
    for _patch in (14, 16):
        _register(_size, _patch)
