"""InfoNCE contrastive losses: MoCo v3 style (thesis eq. 3.2-3.3) and symmetric (thesis eq. 4.2-4.4).

Negatives are the keys of the whole global batch, all-gathered with gradient
(:func:`sparse_core.distributed.gather_with_grad`); each rank scores its own queries against them with the
positive at ``offset_r + i``, so values and gradients match a single process holding the whole batch under DDP
gradient averaging (see :mod:`sparse_core.distributed`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sparse_core.distributed import all_gather_sizes, gather_with_grad, get_rank, global_mean
from sparse_core.losses._dtype import upcast

__all__ = ["contrastive_logits", "info_nce", "symmetric_info_nce"]


def contrastive_logits(q: Tensor, k: Tensor, tau: float | Tensor, normalize: bool = True,
                       gather: bool = True) -> tuple[Tensor, Tensor]:
    """Logits of local queries against the (global) keys and the index of each positive.

    Args:
        q: local queries.
        k: local keys, row ``i`` is the positive of ``q[i]``.
        tau: temperature (float or a scalar tensor, e.g. a learnable one).
        normalize: L2-normalise q and k first (MoCo v3, SimCLR, CLIP all do).
        gather: use the keys of every rank as negatives (otherwise only the local ones).

    Shape:
        q, k: (b, D) -> logits (b, N_keys), labels (b,) long.
    """
    if q.shape[0] != k.shape[0]:
        raise ValueError(f"q and k must have the same batch size, got {q.shape[0]} and {k.shape[0]}")
    if normalize:
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
    offset = 0
    if gather:
        sizes = all_gather_sizes(k.shape[0], k.device)
        k = gather_with_grad(k, sizes)
        offset = sum(sizes[: get_rank()]) if len(sizes) > 1 else 0
    logits = q @ k.t() / tau  # (b, N)
    labels = torch.arange(q.shape[0], device=q.device) + offset
    return logits, labels


def info_nce(q: Tensor, k: Tensor, tau: float | Tensor = 0.2, scale_by_tau: bool = True,
             normalize: bool = True, gather: bool = True, reduction: str = "mean") -> Tensor:
    """InfoNCE of queries ``q`` against keys ``k`` (thesis eq. 3.3, MoCo v3 ``contrastive_loss``).

    ``L = 2 tau * mean_n CE(q_n . K^T / tau, n)`` over the global batch. The ``2 tau`` factor is the one of
    eq. 3.3 and MoCo v3 (it keeps the gradient magnitude independent of tau); pass ``scale_by_tau=False``
    for the plain InfoNCE of eq. 4.2. ``k`` may or may not require grad (a momentum teacher's keys usually
    do not).

    Args:
        q: local queries (e.g. student predictions).
        k: local keys, positives row-aligned with ``q``.
        tau: temperature, float or scalar tensor (learnable temperatures are supported).
        scale_by_tau: multiply by ``2 * tau`` (eq. 3.3 / MoCo v3).
        normalize: L2-normalise both inputs (MoCo v3).
        gather: all-gather keys from every rank as negatives.
        reduction: ``"mean"`` (distributed-exact mean over the global batch) or ``"none"`` (per local query).

    Shape:
        q, k: (b, D) -> scalar, or (b,) with ``reduction="none"``.
    """
    logits, labels = contrastive_logits(q, k, tau, normalize=normalize, gather=gather)
    per_sample = F.cross_entropy(upcast(logits), labels, reduction="none")  # (b,)
    if scale_by_tau:
        per_sample = per_sample * (2 * tau)
    if reduction == "none":
        return per_sample
    if reduction != "mean":
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    return global_mean(per_sample) if gather else per_sample.mean()


def symmetric_info_nce(a: Tensor, b: Tensor, tau: float | Tensor = 0.1, scale_by_tau: bool = False,
                       normalize: bool = True, gather: bool = True, reduction: str = "mean") -> Tensor:
    """Symmetric contrastive loss ``L_ctr(A, B)`` of thesis eq. 4.2-4.4 (CLIP-style, both directions).

    ``L = mean_i [ l(a_i | B) + l(b_i | A) ]`` where ``l(a_i | B) = -log softmax_j(a_i . b_j / tau)_i``:
    a *sum* of the two directions as eq. 4.3 (not their average). With ``scale_by_tau=True`` each direction
    gets the ``2 tau`` factor of eq. 3.3. For MoCo v3's symmetrised loss over two views, call
    ``info_nce(q1, k2) + info_nce(q2, k1)`` instead.

    Shape:
        a, b: (n, D) row-aligned pairs (the MLP projection of eq. 4.1 is applied by the caller;
        normalisation here) -> scalar, or (n,) with ``reduction="none"``.
    """
    a_to_b = info_nce(a, b, tau, scale_by_tau, normalize, gather, reduction)
    b_to_a = info_nce(b, a, tau, scale_by_tau, normalize, gather, reduction)
    return a_to_b + b_to_a
