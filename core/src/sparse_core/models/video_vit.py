"""Video ViT (VideoMAE layout) with the image ViT's token dropping / position override / mask interface.

Tokens are tubelets (default 2 x 16 x 16) from a ``Conv3d``, flattened time-major: token ``i`` sits at
``(t, h, w) = (i // (Hp * Wp), (i // Wp) % Hp, i % Wp)``. By default there is no CLS token; features are
mean-pooled and then normed (``fc_norm``), as in VideoMAE. Blocks are timm's (fused SDPA attention,
drop-path), so the architecture matches VideoMAE's encoder and
:func:`sparse_core.models.videomae.load_videomae_weights` maps Hugging Face weights onto it one to one.

Options beyond VideoMAE: a learned CLS token in front of the patch tokens that carries no position embedding
(``class_token=True``, as ViDROP's student and teacher, thesis sec. 6.2.1), and position tables for clips of
another grid trilinearly resampled as a ``(T', Hp, Wp)`` field (``pos_resample="trilinear"``). A sparse
forward embeds only the kept tubelets. The forward itself is :class:`~.sparse_forward.SparseForwardMixin`'s.
"""

from __future__ import annotations

from functools import partial
from typing import Literal, cast

import torch
import torch.nn.functional as F
from timm.layers import trunc_normal_
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from .pos_embed import sinusoid_1d_table
from .sparse_forward import SparseForwardMixin
from .token_ops import embed_kept_patches, select_tokens

__all__ = ["TubeletEmbed", "VideoViT"]


class TubeletEmbed(nn.Module):
    """Non-overlapping ``tubelet x patch x patch`` tubelets projected by a Conv3d.

    Args:
        tubelet_size: Frames per token.
        patch_size: Pixels per token side.
        in_chans: Input channels.
        embed_dim: Token width.
    """

    def __init__(self, tubelet_size: int, patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        kernel = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=kernel, stride=kernel)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[int, int, int]]:
        """Embed a clip.

        Args:
            x: Clip. Shape ``(B, C, T, H, W)``.

        Returns:
            Tokens of shape ``(B, T' * Hp * Wp, D)`` (time-major) and the grid ``(T', Hp, Wp)``.
        """
        x = self.proj(x)  # (B, D, T', Hp, Wp)
        grid = (x.shape[2], x.shape[3], x.shape[4])
        return x.flatten(2).transpose(1, 2), grid


class VideoViT(SparseForwardMixin):
    """Video Vision Transformer with tubelet embedding and space-time positions.

    Args:
        img_size: Frame side in pixels.
        num_frames: Frames per clip.
        tubelet_size: Frames per token.
        patch_size: Pixels per token side.
        in_chans: Input channels.
        embed_dim: Token width D.
        depth: Number of blocks.
        num_heads: Attention heads.
        mlp_ratio: MLP hidden width / D.
        qkv_bias: Bias on the qkv projection (VideoMAE has q and v biases; k's is zero and has no effect).
        drop_path_rate: Stochastic depth, increasing linearly to this value over the blocks.
        pos_embed_type: ``"sincos"``: VideoMAE's fixed 1-D sinusoid table over the flattened tokens (a
            non-persistent buffer); ``"learned"``: a trained ``(1, N, D)`` parameter.
        mask_token: Create a learnable mask token (needed to pass ``mask``).
        use_mean_pooling: VideoMAE's head: no final norm on tokens, mean-pool then ``fc_norm``. If False,
            tokens get a final ``norm`` and are pooled without ``fc_norm``.
        num_classes: Classifier outputs (0: ``forward`` returns the pooled feature).
        norm_eps: LayerNorm epsilon (VideoMAE uses 1e-6; Hugging Face's config default is 1e-12).
        class_token: Prepend a learned CLS token (trunc-normal 0.02) that gets no position embedding.
        global_pool: ``forward_head``'s pooling: ``"avg"`` (mean of the patch tokens) or ``"token"`` (the
            CLS token; needs ``class_token``).
        pos_resample: Position table for a clip of another token grid (see :meth:`pos_embed_for`):
            ``"native"`` recomputes the sinusoid table for the new token count (VideoMAE) and trilinearly
            resamples a learned one; ``"trilinear"`` resamples either table trilinearly as a ``(T', Hp, Wp)``
            field, so a small clip's token keeps the relative space-time position of the large clip's.
    """

    def __init__(
        self,
        img_size: int = 224,
        num_frames: int = 16,
        tubelet_size: int = 2,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.0,
        pos_embed_type: Literal["sincos", "learned"] = "sincos",
        mask_token: bool = False,
        use_mean_pooling: bool = True,
        num_classes: int = 0,
        norm_eps: float = 1e-6,
        class_token: bool = False,
        global_pool: Literal["avg", "token"] = "avg",
        pos_resample: Literal["native", "trilinear"] = "native",
    ) -> None:
        super().__init__()
        if pos_embed_type not in ("sincos", "learned"):
            raise ValueError(f"pos_embed_type must be 'sincos' or 'learned', got {pos_embed_type!r}")
        if global_pool not in ("avg", "token") or (global_pool == "token" and not class_token):
            raise ValueError(f"global_pool must be 'avg' or 'token' (with class_token=True), got {global_pool!r}")
        if pos_resample not in ("native", "trilinear"):
            raise ValueError(f"pos_resample must be 'native' or 'trilinear', got {pos_resample!r}")
        if num_frames % tubelet_size or img_size % patch_size:
            raise ValueError("num_frames must be divisible by tubelet_size and img_size by patch_size")
        self.embed_dim = self.num_features = self.head_hidden_size = embed_dim
        self.num_classes = num_classes
        self.pos_embed_type = pos_embed_type
        self.use_mean_pooling = use_mean_pooling
        self.global_pool = global_pool
        self.pos_resample = pos_resample
        self.grad_checkpointing = False
        self.num_prefix_tokens = 1 if class_token else 0
        self._grid = (num_frames // tubelet_size, img_size // patch_size, img_size // patch_size)
        norm_layer = cast(type[nn.LayerNorm], partial(nn.LayerNorm, eps=norm_eps))

        # registered first, so parameters keep the order of a CLS token held in front of a VideoViT
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        self.patch_embed = TubeletEmbed(tubelet_size, patch_size, in_chans, embed_dim)
        num_patches = self.num_patches
        if pos_embed_type == "sincos":
            self.register_buffer("pos_embed", sinusoid_1d_table(num_patches, embed_dim)[None], persistent=False)
        else:
            self.pos_embed = nn.Parameter(torch.zeros(1, num_patches, embed_dim))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if mask_token else None

        dpr = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.Sequential(
            *[
                Block(
                    embed_dim,
                    num_heads,
                    mlp_ratio,
                    qkv_bias=qkv_bias,
                    drop_path=dpr[i],
                    norm_layer=norm_layer,
                )
                for i in range(depth)
            ]
        )
        self.norm = nn.Identity() if use_mean_pooling else norm_layer(embed_dim)
        self.fc_norm = norm_layer(embed_dim) if use_mean_pooling else nn.Identity()
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.init_weights()

    def init_weights(self) -> None:
        """Initialise as timm's ViT: trunc-normal 0.02 linears, zero biases, learned positions and CLS 0.02.

        The CLS token is drawn last, so the other weights do not depend on whether there is one.
        """
        if isinstance(self.pos_embed, nn.Parameter):
            trunc_normal_(self.pos_embed, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        if self.cls_token is not None:
            trunc_normal_(self.cls_token, std=0.02)

    # ------------------------------------------------------------------ properties
    @property
    def token_grid(self) -> tuple[int, int, int]:
        """Token grid ``(T', Hp, Wp)`` at the configured clip size."""
        return self._grid

    @property
    def num_patches(self) -> int:
        """Number of tokens ``N = T' * Hp * Wp`` at the configured clip size."""
        t, h, w = self._grid
        return t * h * w

    def grid_of(self, frames: int, height: int, width: int) -> tuple[int, int, int]:
        """Token grid ``(T', Hp, Wp)`` of a ``frames x height x width`` clip."""
        kt, kh, kw = self.patch_embed.proj.kernel_size
        return frames // kt, height // kh, width // kw

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        """Parameter names excluded from weight decay."""
        return {"pos_embed", "mask_token", "cls_token"}

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute block activations in backward (saves memory)."""
        self.grad_checkpointing = enable

    def get_classifier(self) -> nn.Module:
        """The classifier head."""
        return self.head

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a fresh ``Linear(D, num_classes)`` (Identity for 0)."""
        self.num_classes = num_classes
        self.head = nn.Linear(self.embed_dim, num_classes) if num_classes > 0 else nn.Identity()

    # ------------------------------------------------------------------ positions and tokens
    def pos_embed_for(self, grid: tuple[int, int, int]) -> Tensor:
        """Position table for a clip of token grid ``grid`` (the model's own, or one for another grid).

        For another grid, ``pos_resample`` decides: ``"native"`` recomputes a sinusoid table for the new
        token count and trilinearly resamples a learned one; ``"trilinear"`` resamples either table as a
        ``(T', Hp, Wp)`` field.

        Args:
            grid: Token grid ``(T', Hp, Wp)``.

        Returns:
            The table. Shape ``(1, T' * Hp * Wp, D)``.
        """
        grid = (int(grid[0]), int(grid[1]), int(grid[2]))
        if grid == self._grid:
            return self.pos_embed
        if self.pos_embed_type == "sincos" and self.pos_resample == "native":
            return sinusoid_1d_table(grid[0] * grid[1] * grid[2], self.embed_dim).to(self.pos_embed)[None]
        pos = self.pos_embed.reshape(1, *self._grid, self.embed_dim).permute(0, 4, 1, 2, 3)  # (1, D, T', Hp, Wp)
        pos = F.interpolate(pos.float(), size=grid, mode="trilinear", align_corners=False)
        return pos.permute(0, 2, 3, 4, 1).flatten(1, 3).to(self.pos_embed.dtype)

    def _embed(
        self, x: Tensor, keep_idx: Tensor | None, pos_idx: Tensor | None, mask: Tensor | None,
        no_pos: Tensor | None = None,
    ) -> Tensor:
        """Patch tokens only (no CLS): the kept tubelets embedded, masked and positioned.

        Shape:
            x ``(B, C, T, H, W)`` -> ``(B, K, D)``.
        """
        grid = self.grid_of(x.shape[2], x.shape[3], x.shape[4])
        pos = self.pos_embed_for(grid)
        if keep_idx is not None:
            # only the kept tubelets are embedded (the conv as a matmul), so cost falls with K here too
            tokens = embed_kept_patches(x, self.patch_embed.proj, keep_idx)  # (B, K, D)
            num_tokens = grid[0] * grid[1] * grid[2]
            return select_tokens(tokens, pos, keep_idx, pos_idx, mask, self.mask_token, num_tokens, no_pos)
        tokens, _ = self.patch_embed(x)  # (B, N, D)
        return select_tokens(tokens, pos, keep_idx, pos_idx, mask, self.mask_token, no_pos=no_pos)

    def _prepare_tokens(
        self, x: Tensor, keep_idx: Tensor | None, pos_idx: Tensor | None, mask: Tensor | None, no_pos: Tensor | None
    ) -> Tensor:
        tokens = self._embed(x, keep_idx, pos_idx, mask, no_pos)  # (B, K, D)
        if self.cls_token is None:
            return tokens
        cls = self.cls_token.expand(tokens.shape[0], -1, -1).to(tokens.dtype)  # no position embedding
        return torch.cat([cls, tokens], dim=1)  # (B, 1 + K, D)

    # ------------------------------------------------------------------ head
    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Pool the tokens (``global_pool``), ``fc_norm``, classify.

        Args:
            x: Output of :meth:`forward_features`. Shape ``(B, num_prefix_tokens + K, D)``.
            pre_logits: Return the pooled, normed feature ``(B, D)`` instead of logits.

        Returns:
            Shape ``(B, num_classes)`` or ``(B, D)``.
        """
        x = x[:, 0] if self.global_pool == "token" else x[:, self.num_prefix_tokens :].mean(dim=1)
        x = self.fc_norm(x)
        return x if pre_logits else self.head(x)
