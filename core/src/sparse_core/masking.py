"""Token sparsity and masking patterns as pure functions returning indices or boolean masks.

Every function takes ``generator`` (a ``torch.Generator`` or None for the global RNG). Random numbers are
drawn on the generator's device and results moved to ``device``, so the same seed gives the same pattern
whatever the target device. Tokens are indexed in the models' flattened order (row-major for images,
time-major for video).

Counts use round-half-up: ``count(ratio, n) = floor(ratio * n + 0.5)`` (so keep 0.35 of 196 patches is 69),
clamped to ``[1, n]`` for kept tokens and ``[0, n]`` for masked ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "num_keep",
    "random_keep_indices",
    "sample_ratios",
    "mismatch_positions",
    "random_token_mask",
    "tube_mask",
    "block_mask",
    "keep_indices_from_mask",
    "indices_to_mask",
]

DeviceLike = torch.device | str | None


def _count(ratio: float, n: int) -> int:
    return int(math.floor(ratio * n + 0.5))


def _rand(shape: tuple[int, ...], generator: torch.Generator | None, device: DeviceLike) -> Tensor:
    if generator is None:
        return torch.rand(shape, device=device)
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def _random_ranks(batch: int, n: int, generator: torch.Generator | None, device: DeviceLike) -> Tensor:
    """A uniformly random permutation rank per token. Shape ``(B, N)`` long with values ``0..N-1`` per row."""
    return _rand((batch, n), generator, device).argsort(dim=1).argsort(dim=1)


def num_keep(num_tokens: int, keep_ratio: float) -> int:
    """Number of kept tokens K for a ratio: ``clamp(floor(keep_ratio * N + 0.5), 1, N)``.

    Args:
        num_tokens: N.
        keep_ratio: In ``(0, 1]``.
    """
    if not 0.0 < keep_ratio <= 1.0:
        raise ValueError(f"keep_ratio must be in (0, 1], got {keep_ratio}")
    return min(max(_count(keep_ratio, num_tokens), 1), num_tokens)


def random_keep_indices(
    batch_size: int,
    num_tokens: int,
    keep_ratio: float,
    generator: torch.Generator | None = None,
    device: DeviceLike = None,
) -> Tensor:
    """Uniformly random subset of ``K = num_keep(N, keep_ratio)`` tokens per sample.

    Args:
        batch_size: B.
        num_tokens: N.
        keep_ratio: Fraction kept, in ``(0, 1]``.
        generator: Random source.
        device: Device of the result.

    Returns:
        Sorted indices, distinct within a row. Shape ``(B, K)`` long.
    """
    k = num_keep(num_tokens, keep_ratio)
    noise = _rand((batch_size, num_tokens), generator, device)
    return noise.topk(k, dim=1, largest=False).indices.sort(dim=1).values


def sample_ratios(
    batch_size_or_1: int,
    choices: Sequence[float],
    generator: torch.Generator | None = None,
    probs: Sequence[float] | None = None,
) -> float | Tensor:
    """Draw ratios from a finite set (DILEMMA's random sparsity per step or per sample).

    Args:
        batch_size_or_1: 1 for one ratio (returned as a float, e.g. one keep ratio per batch so K is shared),
            else the number of draws.
        choices: The set of ratios.
        generator: Random source.
        probs: Optional probabilities of ``choices`` (default uniform).

    Returns:
        A float if ``batch_size_or_1 == 1``, else a float tensor of shape ``(batch_size_or_1,)``.
    """
    if not choices:
        raise ValueError("choices must not be empty")
    n = int(batch_size_or_1)
    if probs is None:
        idx = torch.randint(len(choices), (n,), generator=generator)
    else:
        if len(probs) != len(choices):
            raise ValueError("probs and choices must have the same length")
        weights = torch.tensor(probs, dtype=torch.float64)
        idx = torch.multinomial(weights, n, replacement=True, generator=generator)
    values = torch.tensor(list(choices), dtype=torch.float32)[idx]
    return float(choices[int(idx[0])]) if n == 1 else values


def mismatch_positions(
    keep_idx: Tensor,
    num_tokens: int,
    theta: float,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Give a fraction ``theta`` of the kept tokens the position of a dropped token (DILEMMA).

    Per sample, ``M = min(floor(theta * K + 0.5), N - K)`` kept tokens are chosen at random and each receives
    the position of a different, randomly chosen dropped token; so a wrong position is never the position of
    another kept token and every label-1 token really sits at a wrong position.

    Args:
        keep_idx: Kept token indices. Shape ``(B, K)`` long.
        num_tokens: N.
        theta: Mismatch fraction in ``[0, 1]``.
        generator: Random source.

    Returns:
        ``pos_idx`` (B, K) long, equal to ``keep_idx`` except at the M mismatched slots, and ``labels`` (B, K)
        float, 1.0 where the position is wrong.
    """
    if not 0.0 <= theta <= 1.0:
        raise ValueError(f"theta must be in [0, 1], got {theta}")
    batch, k = keep_idx.shape
    device = keep_idx.device
    m = min(_count(theta, k), num_tokens - k)
    labels = torch.zeros(batch, k, device=device)
    if m <= 0:
        return keep_idx.clone(), labels
    slots = _rand((batch, k), generator, device).argsort(dim=1)[:, :m]  # (B, M) slots in 0..K-1
    noise = _rand((batch, num_tokens), generator, device)
    noise.scatter_(1, keep_idx, 2.0)  # kept tokens sort last
    wrong = noise.argsort(dim=1)[:, :m]  # (B, M) random dropped tokens, distinct
    pos_idx = keep_idx.clone().scatter_(1, slots, wrong)
    labels.scatter_(1, slots, 1.0)
    return pos_idx, labels


def random_token_mask(
    batch_size: int,
    num_tokens: int,
    ratio_range: tuple[float, float],
    generator: torch.Generator | None = None,
    device: DeviceLike = None,
) -> Tensor:
    """Random mask-token selection with a per-sample ratio drawn uniformly from ``ratio_range`` (iBOT-style).

    Args:
        batch_size: B.
        num_tokens: N (pass K to mask among kept tokens).
        ratio_range: ``(low, high)`` within ``[0, 1]``.
        generator: Random source.
        device: Device of the result.

    Returns:
        True where masked; row ``b`` has ``floor(r_b * N + 0.5)`` True entries. Shape ``(B, N)`` bool.
    """
    low, high = ratio_range
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"ratio_range must satisfy 0 <= low <= high <= 1, got {ratio_range}")
    ratios = low + (high - low) * _rand((batch_size,), generator, device)
    counts = torch.floor(ratios * num_tokens + 0.5).clamp(0, num_tokens).long()  # (B,)
    return _random_ranks(batch_size, num_tokens, generator, device) < counts[:, None]


def tube_mask(
    batch_size: int,
    grid_t: int,
    grid_h: int,
    grid_w: int,
    ratio: float,
    generator: torch.Generator | None = None,
    device: DeviceLike = None,
) -> Tensor:
    """VideoMAE tube masking: the same random spatial mask at every time step.

    Args:
        batch_size: B.
        grid_t: Token grid time steps T'.
        grid_h: Token grid height Hp.
        grid_w: Token grid width Wp.
        ratio: Masked fraction of each frame's ``Hp * Wp`` tokens (``floor(ratio * Hp * Wp + 0.5)`` masked).
        generator: Random source.
        device: Device of the result.

    Returns:
        True where masked, flattened time-major. Shape ``(B, T' * Hp * Wp)`` bool.
    """
    spatial_n = grid_h * grid_w
    count = min(max(_count(ratio, spatial_n), 0), spatial_n)
    spatial = _random_ranks(batch_size, spatial_n, generator, device) < count  # (B, Hp*Wp)
    return spatial[:, None, :].expand(batch_size, grid_t, spatial_n).reshape(batch_size, -1)


def block_mask(
    batch_size: int,
    grid_h: int,
    grid_w: int,
    ratio: float,
    generator: torch.Generator | None = None,
    device: DeviceLike = None,
    min_block: int = 4,
    max_block: int | None = None,
    min_aspect: float = 0.3,
    grid_t: int = 1,
) -> Tensor:
    """BEiT-style blockwise masking: random rectangles until ``floor(ratio * Hp * Wp + 0.5)`` are masked.

    Rectangles have an area drawn uniformly in ``[min_block, min(max_block, remaining)]`` and a log-uniform
    aspect ratio in ``[min_aspect, 1 / min_aspect]`` (BEiT's defaults); a rectangle is accepted only if it
    adds new tokens without passing the target. After 10 rejected draws in a row the remainder is filled with
    random single tokens, so the count is always exact. With ``grid_t > 1`` the 2-D pattern is repeated over
    time (spatio-temporal blocks, as V-JEPA's tubes).

    Args:
        batch_size: B.
        grid_h: Token grid height Hp.
        grid_w: Token grid width Wp.
        ratio: Masked fraction in ``[0, 1]``.
        generator: Random source.
        device: Device of the result.
        min_block: Smallest block area in tokens.
        max_block: Largest block area (default: no limit beyond the remaining count).
        min_aspect: Smallest aspect ratio h/w.
        grid_t: Number of time steps the mask is repeated over.

    Returns:
        True where masked, flattened (time-major, then row-major). Shape ``(B, grid_t * Hp * Wp)`` bool.
    """
    n = grid_h * grid_w
    target = min(max(_count(ratio, n), 0), n)
    log_lo, log_hi = math.log(min_aspect), math.log(1.0 / min_aspect)
    gen_device = generator.device if generator is not None else torch.device("cpu")
    out = torch.zeros(batch_size, grid_h, grid_w, dtype=torch.bool, device=gen_device)
    for b in range(batch_size):
        mask = out[b]
        count, stalls = 0, 0
        while count < target and stalls < 10:
            remaining = target - count
            max_area = remaining if max_block is None else min(remaining, max_block)
            if max_area < min_block:
                break
            u = _rand((4,), generator, gen_device).tolist()
            area = min_block + u[0] * (max_area - min_block)
            aspect = math.exp(log_lo + u[1] * (log_hi - log_lo))
            h, w = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
            if not (1 <= h <= grid_h and 1 <= w <= grid_w):
                stalls += 1
                continue
            top, left = int(u[2] * (grid_h - h + 1)), int(u[3] * (grid_w - w + 1))
            region = mask[top : top + h, left : left + w]
            new = int((~region).sum())
            if 0 < new <= remaining:
                region.fill_(True)
                count += new
                stalls = 0
            else:
                stalls += 1
        if count < target:  # top up with random single tokens
            noise = _rand((n,), generator, gen_device)
            noise[mask.reshape(-1)] = 2.0
            mask.view(-1)[noise.argsort()[: target - count]] = True
    flat = out.reshape(batch_size, 1, n).expand(batch_size, grid_t, n).reshape(batch_size, -1)
    return flat.to(device) if device is not None else flat


def keep_indices_from_mask(drop_mask: Tensor) -> Tensor:
    """Sorted indices of the tokens not dropped (e.g. ``~tube_mask`` tokens for a VideoMAE encoder).

    Args:
        drop_mask: True where a token is dropped; every row must drop the same number. Shape ``(B, N)`` bool.

    Returns:
        Shape ``(B, K)`` long with ``K = N - drop_mask[0].sum()``.
    """
    counts = drop_mask.sum(dim=1)
    if counts.numel() and not bool((counts == counts[0]).all()):
        raise ValueError("every row of drop_mask must drop the same number of tokens")
    k = drop_mask.shape[1] - (int(counts[0]) if counts.numel() else 0)
    return drop_mask.to(torch.int8).argsort(dim=1, stable=True)[:, :k]


def indices_to_mask(idx: Tensor, num_tokens: int) -> Tensor:
    """Boolean mask with True at ``idx``. ``idx`` (B, K) long -> shape ``(B, N)`` bool."""
    return torch.zeros(idx.shape[0], num_tokens, dtype=torch.bool, device=idx.device).scatter_(1, idx, True)
