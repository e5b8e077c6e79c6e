"""Teacher target normalisation for DINO/iBOT: centering (DINO) and Sinkhorn-Knopp (SwAV, DINOv2).

Both are distributed-exact: the center and the Sinkhorn marginals are computed over the global batch
(sums and counts all-reduced), so every rank gets the targets a single process would compute.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sparse_core.distributed import all_reduce_max, all_reduce_sum
from sparse_core.losses._dtype import upcast

__all__ = ["centered_softmax", "sinkhorn_knopp", "update_center"]


@torch.no_grad()
def centered_softmax(teacher_logits: Tensor, center: Tensor, teacher_temp: float) -> Tensor:
    """DINO teacher targets ``softmax((t - center) / teacher_temp)``.

    Shape:
        teacher_logits: (..., K); center: (1, K) or (K,) -> (..., K) probabilities (at least float32).
    """
    return torch.softmax((upcast(teacher_logits) - center) / teacher_temp, dim=-1)


@torch.no_grad()
def update_center(center: Tensor, teacher_logits: Tensor, momentum: float) -> Tensor:
    """In-place EMA update of ``center`` with the mean teacher output of the global batch (DINO).

    ``center <- m * center + (1 - m) * mean_{global rows}(teacher_logits)``; the row sum and the row count are
    all-reduced, so uneven per-rank sizes are handled exactly (DINO divides by ``len * world_size``).

    Shape:
        center: (1, K) buffer, modified in place and returned; teacher_logits: (n, K) local rows.
    """
    t = upcast(teacher_logits.detach()).reshape(-1, teacher_logits.shape[-1])
    total = all_reduce_sum(t.sum(dim=0, keepdim=True))  # (1, K)
    count = all_reduce_sum(torch.tensor(float(t.shape[0]), dtype=t.dtype, device=t.device))
    batch_center = total / count.clamp_min(1)
    updated = center * momentum + batch_center * (1 - momentum)
    center.copy_(torch.where(count > 0, updated, center))  # no host sync; an empty global batch keeps it
    return center


@torch.no_grad()
def sinkhorn_knopp(teacher_logits: Tensor, teacher_temp: float, n_iterations: int = 3) -> Tensor:
    """Sinkhorn-Knopp teacher targets over the global batch (SwAV; DINOv2 ``sinkhorn_knopp_teacher``).

    Alternately normalises prototype marginals to ``1/K`` and sample marginals to ``1/N`` (N = rows of all
    ranks, all-reduced). Returns per-sample distributions (each row sums to 1). Unlike DINOv2 the logits are
    shifted by their global maximum before ``exp`` (same result, no overflow at low temperatures).

    Args:
        teacher_logits: local teacher outputs (rows of all crops flattened).
        teacher_temp: teacher temperature.
        n_iterations: Sinkhorn iterations (DINOv2 uses 3).

    Shape:
        teacher_logits: (n, K) -> (n, K) (at least float32).
    """
    logits = upcast(teacher_logits.detach()) / teacher_temp
    global_max = all_reduce_max(logits.max() if logits.numel() else logits.new_tensor(-float("inf")))
    q = torch.exp(logits - global_max).t()  # (K, n)
    n_global = all_reduce_sum(torch.tensor(float(q.shape[1]), dtype=q.dtype, device=q.device))
    k = q.shape[0]
    tiny = torch.finfo(q.dtype).tiny  # an all-underflowed prototype stays 0 instead of becoming NaN
    q = q / all_reduce_sum(q.sum())
    for _ in range(n_iterations):
        q = q / all_reduce_sum(q.sum(dim=1, keepdim=True)).clamp_min(tiny) / k  # prototype rows sum to 1/K
        q = q / q.sum(dim=0, keepdim=True).clamp_min(tiny) / n_global  # sample columns sum to 1/N
    return (q * n_global).t()
