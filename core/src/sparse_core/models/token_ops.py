"""Token selection shared by the image and video ViTs.

Embed, drop, re-position, mask and un-position patch tokens.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
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
    num_tokens: int | None = None,
    no_pos: Tensor | None = None,
) -> Tensor:
    """Mask, drop and position-embed patch tokens (before any prefix token is prepended).

    The result is as if (1) masked patch embeddings were replaced by ``mask_token``; (2) only the ``keep_idx``
    tokens were kept, in the given order; (3) kept token ``k`` received position embedding ``pos_idx[:, k]``
    (default ``keep_idx``, i.e. its own position), or none at all where ``no_pos[:, k]`` is True. With all of
    ``keep_idx``, ``pos_idx``, ``mask`` and ``no_pos`` left out this is ``x + pos_embed``, bit for bit.

    Args:
        x: Patch embeddings, shape ``(B, N, D)``; or, when ``num_tokens`` is given, the embeddings of the kept
            tokens only, shape ``(B, K, D)`` (the caller embedded just those patches).
        pos_embed: Patch position embeddings, or None for none. Shape ``(1, N, D)`` or ``(B, N, D)``.
        keep_idx: Indices of the patch tokens to keep. Shape ``(B, K)`` long.
        pos_idx: Position index given to each kept token. Shape ``(B, K)`` long (``(B, N)`` if ``keep_idx``
            is None).
        mask: True where the patch embedding is replaced by the mask token. Shape ``(B, N)`` bool over all
            patches (checked first), or ``(B, K)`` over the kept tokens.
        mask_token: Learned mask embedding. Shape ``(1, 1, D)``.
        num_tokens: N, when ``x`` already holds only the kept tokens (requires ``keep_idx``).
        no_pos: True where a kept token gets no position embedding (its content only; DILEMMA's partial
            jigsaw ablation). The table is multiplied by zero there, so it stays in the autograd graph.
            Shape ``(B, K)`` bool (``(B, N)`` if ``keep_idx`` is None).

    Returns:
        Tokens to feed the transformer blocks. Shape ``(B, K, D)``.
    """
    batch = x.shape[0]
    preselected = num_tokens is not None
    if preselected and (keep_idx is None or x.shape[1] != keep_idx.shape[1]):
        raise ValueError("pre-selected tokens need keep_idx with one index per token")
    n = num_tokens if num_tokens is not None else x.shape[1]
    if keep_idx is not None:
        _check_idx("keep_idx", keep_idx, batch, n)
    if pos_idx is not None:
        _check_idx("pos_idx", pos_idx, batch, n)
        expected = keep_idx.shape[1] if keep_idx is not None else n
        if pos_idx.shape[1] != expected:
            raise ValueError(f"pos_idx must have {expected} columns (one per kept token), got {pos_idx.shape[1]}")
    if mask is not None:
        if mask_token is None:
            raise ValueError("a mask was given but the model was built without a mask token (mask_token=True)")
        if mask.ndim != 2 or mask.shape[0] != batch:
            raise ValueError(f"mask must be (B, N) or (B, K) bool, got {tuple(mask.shape)}")
        if keep_idx is not None and mask.shape[1] == n:
            mask = mask.gather(1, keep_idx)  # (B, K): masking commutes with token selection
        elif mask.shape[1] != (keep_idx.shape[1] if keep_idx is not None else n):
            raise ValueError(f"mask has {mask.shape[1]} columns; expected N={n} or K")
    if no_pos is not None:
        expected = keep_idx.shape[1] if keep_idx is not None else n
        if no_pos.ndim != 2 or no_pos.shape[0] != batch or no_pos.shape[1] != expected or no_pos.dtype != torch.bool:
            raise ValueError(f"no_pos must be a (B={batch}, {expected}) bool tensor, got {tuple(no_pos.shape)}")

    if keep_idx is not None and not preselected:
        x = gather_tokens(x, keep_idx)  # (B, K, D)
    if mask is not None:
        assert mask_token is not None
        x = torch.where(mask.unsqueeze(-1), mask_token.to(x.dtype), x)
    if pos_embed is not None:
        if keep_idx is None and pos_idx is None:
            pos = pos_embed  # (1 or B, N, D)
        else:
            idx = pos_idx if pos_idx is not None else keep_idx
            assert idx is not None
            pos = gather_tokens(pos_embed, idx)  # (B, K, D)
        if no_pos is not None:
            pos = pos * (~no_pos).unsqueeze(-1).to(pos.dtype)
        x = x + pos
    return x


def is_patchify_conv(proj: nn.Module) -> bool:
    """True if ``proj`` is a Conv2d/Conv3d over non-overlapping patches (kernel == stride, no padding)."""
    return (
        isinstance(proj, (nn.Conv2d, nn.Conv3d))
        and tuple(proj.kernel_size) == tuple(proj.stride)
        and all(p == 0 for p in proj.padding)  # type: ignore[union-attr]
        and all(d == 1 for d in proj.dilation)
        and proj.groups == 1
    )


def embed_kept_patches(x: Tensor, proj: nn.Module, keep_idx: Tensor) -> Tensor:
    """Embed only the kept patches: gather their pixels, then apply the patchify conv as a matmul.

    Equal (up to float rounding) to ``proj(x)`` flattened and gathered at ``keep_idx``, but the embedding's
    cost, forward and backward, falls with K too (the convolution's weight gradient would otherwise be paid
    for every patch).

    Args:
        x: Images ``(B, C, H, W)`` or clips ``(B, C, T, H, W)``.
        proj: A patchify ``Conv2d`` / ``Conv3d`` (see :func:`is_patchify_conv`).
        keep_idx: Indices into the flattened patch grid (row-major / time-major). Shape ``(B, K)`` long.

    Returns:
        Patch embeddings of the kept patches. Shape ``(B, K, D)``.
    """
    conv = cast(nn.Conv2d, proj)
    kernel = tuple(conv.kernel_size)
    nd = len(kernel)
    batch, chans = x.shape[:2]
    grid = [s // k for s, k in zip(x.shape[2:], kernel)]
    for dim, (g, k) in enumerate(zip(grid, kernel)):
        x = x.narrow(2 + dim, 0, g * k)  # conv drops a remainder
    split = [v for g, k in zip(grid, kernel) for v in (g, k)]
    x = x.reshape(batch, chans, *split)  # (B, C, g0, k0, g1, k1, ...)
    order = [0, *[2 + 2 * i for i in range(nd)], 1, *[3 + 2 * i for i in range(nd)]]
    patches = x.permute(order).flatten(1, nd)  # (B, N, C, k0, k1, ...), a view
    rows = torch.arange(batch, device=keep_idx.device)[:, None]
    kept = patches[rows, keep_idx].flatten(2)  # (B, K, C * prod(k))
    return F.linear(kept, conv.weight.flatten(1), conv.bias)
