"""Class-balanced low-shot subsets (e.g. the 1% / 10% semi-supervised protocols)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def low_shot_indices(
    labels: Tensor,
    fraction: float | None = None,
    seed: int = 0,
    per_class: int | None = None,
) -> Tensor:
    """Indices of a class-balanced random subset.

    Each class ``c`` with ``n_c`` samples contributes ``max(1, round(fraction * n_c))`` samples (so
    the subset keeps the class proportions and no class disappears), or exactly ``per_class`` if
    given. The choice is a function of ``seed`` only (a local ``torch.Generator``).

    Args:
        labels: ``(N,)`` integer labels.
        fraction: Fraction in ``(0, 1]`` of each class to keep.
        seed: Seed of the draw.
        per_class: Fixed number per class instead of ``fraction``.

    Returns:
        ``(M,)`` long, sorted indices into ``labels``.

    Raises:
        ValueError: Both or neither of ``fraction`` / ``per_class`` given, a fraction outside
            ``(0, 1]``, or ``per_class`` larger than some class.
    """
    if (fraction is None) == (per_class is None):
        raise ValueError("give exactly one of fraction and per_class")
    if fraction is not None and not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    labels = labels.cpu().long()
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for c in torch.unique(labels).tolist():
        idx = (labels == c).nonzero(as_tuple=True)[0]
        n = per_class if per_class is not None else max(1, math.floor(fraction * len(idx) + 0.5))  # type: ignore[operator]
        if n > len(idx):
            raise ValueError(f"class {c} has {len(idx)} samples, fewer than per_class={n}")
        chosen.append(idx[torch.randperm(len(idx), generator=g)[:n]])
    return torch.cat(chosen).sort().values
