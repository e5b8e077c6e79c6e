"""Video ViT (VideoMAE layout) with the image ViT's token dropping / position override / mask interface.

Tokens are tubelets (default 2 x 16 x 16) from a ``Conv3d``, flattened time-major: token ``i`` sits at
``(t, h, w) = (i // (Hp * Wp), (i // Wp) % Hp, i % Wp)``. There is no CLS token; features are mean-pooled and
then normed (``fc_norm``), as in VideoMAE. Blocks are timm's (fused SDPA attention, drop-path), so the
architecture matches VideoMAE's encoder and :func:`sparse_core.models.videomae.load_videomae_weights` maps
Hugging Face weights onto it one to one.
"""

from __future__ import annotations

from functools import partial
from typing import Literal, cast

import torch
import torch.nn.functional as F
from timm.layers import trunc_normal_
from timm.models import checkpoint_seq
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from .pos_embed import sinusoid_1d_table
from .token_ops import attention_probs, embed_kept_patches, select_tokens

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


class VideoViT(nn.Module):
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
            non-persistent buffer, recomputed for other token counts); ``"learned"``: a trained
            ``(1, N, D)`` parameter, trilinearly resampled for other grids.
        mask_token: Create a learnable mask token (needed to pass ``mask``).
        use_mean_pooling: VideoMAE's head: no final norm on tokens, mean-pool then ``fc_norm``. If False,
            tokens get a final ``norm`` and are mean-pooled without ``fc_norm``.
        num_classes: Classifier outputs (0: ``forward`` returns the pooled feature).
        norm_eps: LayerNorm epsilon (VideoMAE uses 1e-6; Hugging Face's config default is 1e-12).
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
    ) -> None:
        super().__init__()
        if pos_embed_type not in ("sincos", "learned"):
            raise ValueError(f"pos_embed_type must be 'sincos' or 'learned', got {pos_embed_type!r}")
        if num_frames % tubelet_size or img_size % patch_size:
            raise ValueError("num_frames must be divisible by tubelet_size and img_size by patch_size")
        self.embed_dim = self.num_features = self.head_hidden_size = embed_dim
        self.num_classes = num_classes
        self.pos_embed_type = pos_embed_type
        self.use_mean_pooling = use_mean_pooling
        self.grad_checkpointing = False
        self.num_prefix_tokens = 0
        self._grid = (num_frames // tubelet_size, img_size // patch_size, img_size // patch_size)
        norm_layer = cast(type[nn.LayerNorm], partial(nn.LayerNorm, eps=norm_eps))

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
        """timm ViT init (truncated normal 0.02 linears, zero biases); learned positions trunc-normal 0.02."""
        if isinstance(self.pos_embed, nn.Parameter):
            trunc_normal_(self.pos_embed, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

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

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        """Parameter names excluded from weight decay."""
        return {"pos_embed", "mask_token"}

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

    # ------------------------------------------------------------------ forward
    def _pos_for_grid(self, grid: tuple[int, int, int]) -> Tensor:
        if grid == self._grid:
            return self.pos_embed
        if self.pos_embed_type == "sincos":
            return sinusoid_1d_table(grid[0] * grid[1] * grid[2], self.embed_dim).to(self.pos_embed)[None]
        pos = self.pos_embed.reshape(1, *self._grid, self.embed_dim).permute(0, 4, 1, 2, 3)
        pos = F.interpolate(pos.float(), size=grid, mode="trilinear", align_corners=False)
        return pos.permute(0, 2, 3, 4, 1).flatten(1, 3).to(self.pos_embed.dtype)

    def _embed(self, x: Tensor, keep_idx: Tensor | None, pos_idx: Tensor | None, mask: Tensor | None) -> Tensor:
        kernel = self.patch_embed.proj.kernel_size
        grid = (x.shape[2] // kernel[0], x.shape[3] // kernel[1], x.shape[4] // kernel[2])
        pos = self._pos_for_grid(grid)
        if keep_idx is not None:
            # only the kept tubelets are embedded (the conv as a matmul), so cost falls with K here too
            tokens = embed_kept_patches(x, self.patch_embed.proj, keep_idx)  # (B, K, D)
            return select_tokens(tokens, pos, keep_idx, pos_idx, mask, self.mask_token, grid[0] * grid[1] * grid[2])
        tokens, _ = self.patch_embed(x)  # (B, N, D)
        return select_tokens(tokens, pos, keep_idx, pos_idx, mask, self.mask_token)

    def forward_features(
        self,
        x: Tensor,
        keep_idx: Tensor | None = None,
        pos_idx: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """Embed tubelets, drop/mask tokens, run the blocks.

        Args:
            x: Clips. Shape ``(B, C, T, H, W)``.
            keep_idx: Tokens to keep, order preserved. Shape ``(B, K)`` long into the ``N`` flattened tokens.
            pos_idx: Position index of each kept token; defaults to ``keep_idx``. Shape ``(B, K)`` long.
            mask: True where the tubelet embedding is replaced by the mask token. Shape ``(B, N)`` bool
                (or ``(B, K)`` over the kept tokens when ``K != N``).

        Returns:
            Tokens (VideoMAE's ``last_hidden_state``). Shape ``(B, K, D)``.
        """
        x = self._embed(x, keep_idx, pos_idx, mask)
        if self.grad_checkpointing and not torch.jit.is_scripting():
            x = checkpoint_seq(self.blocks, x)
        else:
            x = self.blocks(x)
        return self.norm(x)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Mean-pool the tokens, ``fc_norm``, classify.

        Args:
            x: Output of :meth:`forward_features`. Shape ``(B, K, D)``.
            pre_logits: Return the pooled, normed feature ``(B, D)`` instead of logits.

        Returns:
            Shape ``(B, num_classes)`` or ``(B, D)``.
        """
        x = self.fc_norm(x.mean(dim=1))
        return x if pre_logits else self.head(x)

    def forward(
        self,
        x: Tensor,
        keep_idx: Tensor | None = None,
        pos_idx: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """``forward_head(forward_features(x, ...))``."""
        return self.forward_head(self.forward_features(x, keep_idx=keep_idx, pos_idx=pos_idx, mask=mask))

    def get_last_selfattention(
        self,
        x: Tensor,
        keep_idx: Tensor | None = None,
        pos_idx: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """Attention probabilities of the last block. Shape ``(B, heads, K, K)``."""
        x = self._embed(x, keep_idx, pos_idx, mask)
        for blk in self.blocks[:-1]:
            x = blk(x)
        last = cast(Block, self.blocks[-1])
        return attention_probs(last.attn, last.norm1(x))
