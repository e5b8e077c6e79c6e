"""SimCLR's NT-Xent (normalised-temperature cross-entropy) with negatives from every process."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sparse_core.distributed import all_gather_sizes, gather_with_grad, get_rank, global_mean

__all__ = ["nt_xent"]


def nt_xent(z1: Tensor, z2: Tensor, tau: float) -> Tensor:
    """NT-Xent over the 2B projections of the global batch (Chen et al., 2020).

    Each of the 2B anchors has one positive, the other view of the same sample; the other 2B - 2 projections
    of every process are its negatives (gathered with gradient, uneven local sizes allowed).

    Args:
        z1: local projections of the first view.
        z2: local projections of the second view, row-aligned with ``z1``.
        tau: temperature.

    Returns:
        Distributed-exact mean over the 2B anchors of the global batch (see
        :func:`sparse_core.distributed.global_mean`).

    Shape:
        z1, z2: (b, G) -> scalar.
    """
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=-1)  # (2b, G): local view-1 rows then view-2 rows
    sizes = all_gather_sizes(2 * b, z.device)
    allz = gather_with_grad(z, sizes)  # (2B, G), rank-major
    offset = sum(sizes[: get_rank()])
    logits = z @ allz.t() / tau  # (2b, 2B)
    own = torch.arange(2 * b, device=z.device) + offset
    logits = logits.masked_fill(F.one_hot(own, allz.shape[0]).bool(), float("-inf"))
    pos = torch.cat([own[b:], own[:b]])  # view-1 row i <-> view-2 row i
    return global_mean(F.cross_entropy(logits.float(), pos, reduction="none"))
