"""The sparse forward contract shared by the image and video ViTs, written once.

A model mixes in :class:`SparseForwardMixin` and supplies ``_prepare_tokens`` (patch embedding of the kept
patches, masking, positions, prefix tokens), ``blocks``, ``norm``, ``grad_checkpointing`` and
``forward_head``; the mixin gives timm's ``forward_features`` / ``forward`` with the token arguments and the
last block's attention maps.
"""

from __future__ import annotations

from typing import cast

import torch
from timm.layers import Attention
from timm.models import checkpoint_seq
from timm.models.vision_transformer import Block
from torch import Tensor, nn

__all__ = ["SparseForwardMixin", "attention_probs"]


def attention_probs(attn: nn.Module, x: Tensor) -> Tensor:
    """Softmax attention probabilities of a timm ``Attention`` layer, computed explicitly (no fused kernel).

    Args:
        attn: A ``timm.layers.Attention`` (uses its ``qkv``, ``q_norm``, ``k_norm``, ``scale``).
        x: The layer's (already normed) input. Shape ``(B, T, D)``.

    Returns:
        Attention probabilities. Shape ``(B, heads, T, T)``; rows sum to one.
    """
    attn = cast(Attention, attn)
    batch, tokens, _ = x.shape
    qkv = attn.qkv(x).reshape(batch, tokens, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    q, k, _ = qkv.unbind(0)  # (B, H, T, hd)
    q, k = attn.q_norm(q), attn.k_norm(k)
    return ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)


class SparseForwardMixin(nn.Module):
    """``forward_features`` / ``forward`` / ``get_last_selfattention`` taking the token arguments.

    The token arguments, the same for images and clips (``N`` patch tokens, flattened row-major or
    time-major):

    * ``keep_idx`` ``(B, K)`` long: only these patch tokens are embedded and enter the blocks (order kept).
    * ``pos_idx`` ``(B, K)`` long: the position embedding each kept token receives (default its own).
    * ``mask`` ``(B, N)`` (or ``(B, K)``) bool: patch embeddings replaced by the mask token.
    * ``no_pos`` ``(B, K)`` bool: kept tokens that get no position embedding.

    Prefix tokens (CLS, registers) are always kept and come first.
    """

    blocks: nn.Sequential
    norm: nn.Module
    grad_checkpointing: bool

    def _prepare_tokens(
        self, x: Tensor, keep_idx: Tensor | None, pos_idx: Tensor | None, mask: Tensor | None, no_pos: Tensor | None
    ) -> Tensor:
        """The blocks' input: prefix tokens then the embedded, selected, positioned patch tokens.

        Shape:
            returns ``(B, num_prefix_tokens + K, D)``.
        """
        raise NotImplementedError

    def forward_features(  # type: ignore[override]
        self, x: Tensor, keep_idx: Tensor | None = None, pos_idx: Tensor | None = None, mask: Tensor | None = None,
        no_pos: Tensor | None = None,
    ) -> Tensor:
        """Embed the kept patches, mask and position them, run the blocks and the final norm.

        Args:
            x: Images ``(B, C, H, W)`` or clips ``(B, C, T, H, W)``.
            keep_idx: Patch tokens to keep (order preserved); the others are never embedded.
                Shape ``(B, K)`` long.
            pos_idx: Position embedding index of each kept token; defaults to ``keep_idx``.
                Shape ``(B, K)`` long.
            mask: True where the patch embedding is replaced by the mask token, before positions are added.
                Shape ``(B, N)`` bool over all patches (or ``(B, K)`` over the kept tokens when ``K != N``).
            no_pos: True where a kept token gets no position embedding. Shape ``(B, K)`` bool.

        Returns:
            Normed tokens, prefix tokens first. Shape ``(B, num_prefix_tokens + K, D)``.
        """
        x = self._prepare_tokens(x, keep_idx, pos_idx, mask, no_pos)
        if self.grad_checkpointing and torch.is_grad_enabled() and not torch.jit.is_scripting():
            x = checkpoint_seq(self.blocks, x)
        else:
            x = self.blocks(x)
        return self.norm(x)

    def forward(  # type: ignore[override]
        self, x: Tensor, keep_idx: Tensor | None = None, pos_idx: Tensor | None = None, mask: Tensor | None = None,
        no_pos: Tensor | None = None,
    ) -> Tensor:
        """``forward_head(forward_features(x, ...))``: logits ``(B, num_classes)`` or pooled ``(B, D)``."""
        tokens = self.forward_features(x, keep_idx=keep_idx, pos_idx=pos_idx, mask=mask, no_pos=no_pos)
        return cast(Tensor, self.forward_head(tokens))  # type: ignore[operator]  # defined by the model

    def get_last_selfattention(
        self, x: Tensor, keep_idx: Tensor | None = None, pos_idx: Tensor | None = None, mask: Tensor | None = None,
        no_pos: Tensor | None = None,
    ) -> Tensor:
        """Attention probabilities of the last block (DINO's attention maps; with a CLS token row 0 is its query).

        All blocks but the last run as usual; the last block's attention is computed explicitly.

        Args:
            x: Images ``(B, C, H, W)`` or clips ``(B, C, T, H, W)``.
            keep_idx: Patch tokens to keep, as in :meth:`forward_features`. Shape ``(B, K)`` long.
            pos_idx: Position embedding index of each kept token (default ``keep_idx``). Shape ``(B, K)`` long.
            mask: True where the patch embedding is replaced by the mask token. Shape ``(B, N)`` or ``(B, K)``
                bool.
            no_pos: True where a kept token gets no position embedding. Shape ``(B, K)`` bool.

        Returns:
            Shape ``(B, heads, T, T)`` with ``T = num_prefix_tokens + K``.
        """
        x = self._prepare_tokens(x, keep_idx, pos_idx, mask, no_pos)
        for blk in self.blocks[:-1]:
            x = blk(x)
        last = cast(Block, self.blocks[-1])
        return attention_probs(last.attn, last.norm1(x))
