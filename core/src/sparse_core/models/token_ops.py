"""Token selection shared by the image and video ViTs: drop, re-position and mask patch tokens."""

from __future__ import annotations

from typing import cast

import torch
from timm.layers import Attention
from torch import Tensor, nn


def gather_tokens(x: Tensor, idx: Tensor) -> Tensor:
    """Pick tokens per sample.

    Args:
        x: Tokens. Shape ``(B, N, D)``; a batch dimension of 1 is broadcast.
        idx: Long indices into ``N``. Shape ``(B, K)``.

    Returns:
        ``x[b, idx[b, k]]``. Shape ``(B, K, D)``.
    """
    x = x.expand(idx.shape[0], -1, -1)
    return x.gather(1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def _check_idx(name: str, idx: Tensor, batch: int, num_tokens: int) -> None:
    if idx.ndim != 2 or idx.shape[0] != batch or idx.dtype != torch.long:
        raise ValueError(f"{name} must be a (B={batch}, K) long tensor, got {tuple(idx.shape)} {idx.dtype}")
    # range check only on CPU: on an accelerator it would force a device sync every forward
    if idx.device.type == "cpu" and idx.numel() and (idx.min() < 0 or idx.max() >= num_tokens):
        raise IndexError(f"{name} has entries outside [0, {num_tokens})")


def select_tokens(
    x: Tensor,
    pos_embed: Tensor | None,
    keep_idx: Tensor | None = None,
    pos_idx: Tensor | None = None,
    mask: Tensor | None = None,
    mask_token: Tensor | None = None,
) -> Tensor:
    """Mask, drop and position-embed patch tokens (before any prefix token is prepended).

    The order is: (1) masked patch embeddings are replaced by ``mask_token``; (2) only the ``keep_idx`` tokens
    are kept, in the given order; (3) kept token ``k`` receives position embedding ``pos_idx[:, k]`` (default
    ``keep_idx``, i.e. its own position). With all of ``keep_idx``, ``pos_idx`` and ``mask`` left out this is
    ``x + pos_embed``, bit for bit.

    Args:
        x: Patch embeddings. Shape ``(B, N, D)``.
        pos_embed: Patch position embeddings, or None for none. Shape ``(1, N, D)`` or ``(B, N, D)``.
        keep_idx: Indices of the patch tokens to keep. Shape ``(B, K)`` long.
        pos_idx: Position index given to each kept token. Shape ``(B, K)`` long (``(B, N)`` if ``keep_idx``
            is None).
        mask: True where the patch embedding is replaced by the mask token. Shape ``(B, N)`` bool over all
            patches (checked first), or ``(B, K)`` over the kept tokens.
        mask_token: Learned mask embedding. Shape ``(1, 1, D)``.

    Returns:
        Tokens to feed the transformer blocks. Shape ``(B, K, D)``.
    """
    batch, num_tokens, _ = x.shape
    if keep_idx is not None:
        _check_idx("keep_idx", keep_idx, batch, num_tokens)
    if pos_idx is not None:
        _check_idx("pos_idx", pos_idx, batch, num_tokens)
        expected = keep_idx.shape[1] if keep_idx is not None else num_tokens
        if pos_idx.shape[1] != expected:
            raise ValueError(
                f"pos_idx must have {expected} columns (one per kept token), got {pos_idx.shape[1]}"
            )

    mask_after_keep = None
    if mask is not None:
        if mask_token is None:
            raise ValueError(
                "a mask was given but the model was built without a mask token (mask_token=True)"
            )
        if mask.ndim != 2 or mask.shape[0] != batch:
            raise ValueError(f"mask must be (B, N) or (B, K) bool, got {tuple(mask.shape)}")
        if mask.shape[1] == num_tokens:
            x = torch.where(mask.unsqueeze(-1), mask_token.to(x.dtype), x)
        elif keep_idx is not None and mask.shape[1] == keep_idx.shape[1]:
            mask_after_keep = mask
        else:
            raise ValueError(f"mask has {mask.shape[1]} columns; expected N={num_tokens} or K")

    if keep_idx is not None:
        x = gather_tokens(x, keep_idx)  # (B, K, D)
    if mask_after_keep is not None:
        assert mask_token is not None
        x = torch.where(mask_after_keep.unsqueeze(-1), mask_token.to(x.dtype), x)

    if pos_embed is not None:
        if keep_idx is None and pos_idx is None:
            x = x + pos_embed
        else:
            idx = pos_idx if pos_idx is not None else keep_idx
            assert idx is not None
            x = x + gather_tokens(pos_embed, idx)
    return x


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
