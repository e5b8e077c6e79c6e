"""SCALE's losses: masked clip modelling (thesis eq. 4.6) and the set loss (eq. 4.7); total eq. 4.8.

Both use the symmetric contrastive loss of eq. 4.2-4.4 with temperature ``tau`` (0.2, public SCALE code) on
L2-normalised projections. Negatives come from every process: the key / query banks are all-gathered with
gradient (:func:`sparse_core.distributed.gather_with_grad`) and the means are distributed-exact
(:func:`sparse_core.distributed.global_mean`), so the value of every rank's loss averaged over ranks, and the
DDP-averaged gradients, equal those of one process holding the whole batch (convention of
:mod:`sparse_core.distributed`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sparse_core.distributed import all_gather_sizes, gather_with_grad, get_rank, global_mean
from sparse_core.losses import symmetric_info_nce

__all__ = ["mcm_loss", "set_loss"]


def _gathered(x: Tensor) -> tuple[Tensor, int]:
    """``x`` of every rank along dim 0 (with gradient) and the global row of this rank's first row."""
    sizes = all_gather_sizes(x.shape[0], x.device)
    offset = sum(sizes[: get_rank()]) if len(sizes) > 1 else 0
    return gather_with_grad(x, sizes), offset


def mcm_loss(pred: Tensor, target: Tensor, mask: Tensor, tau: float = 0.2) -> Tensor:
    """Masked clip modelling loss, thesis eq. 4.6, summed over the masked clips of a video, mean over videos.

    For a masked clip ``i``: ``l^i = ltilde(pred_i | T) + ltilde(target_i | P)`` (eq. 4.3), where ``T`` are the
    projected original embeddings and ``P`` the predictions of **every** clip of the global batch (both sets
    of every video): the other clips of the same video are hard negatives, the clips of the other videos
    the rest of the batch (sec. 4.2.3, "closer to the original unmasked clip representation than from all
    other clips from the same video and the rest of the minibatch"). Inputs are normalised here (eq. 4.1).

    Args:
        pred: projected predictor outputs of the clips (after the MLP of eq. 4.1).
        target: projected frozen clip embeddings (the other MLP of eq. 4.1), row-aligned with ``pred``.
        mask: True at the clips whose input was replaced by the MSK token.
        tau: temperature.

    Shape:
        pred, target: (B, S, D) with S clips per video (both sets); mask: (B, S) bool -> scalar.
    """
    b, s, d = pred.shape
    p = F.normalize(pred.float(), dim=-1).reshape(b * s, d)  # (B*S, D)
    t = F.normalize(target.float(), dim=-1).reshape(b * s, d)
    p_all, offset = _gathered(p)  # (N*S, D) every clip of the global batch
    t_all, _ = _gathered(t)
    idx = mask.reshape(-1).nonzero(as_tuple=True)[0]  # local masked rows
    labels = idx + offset  # offset counts clips (rows of p) of the lower ranks
    p_to_t = F.cross_entropy(p[idx] @ t_all.t() / tau, labels, reduction="none")  # ltilde(pred_i | T)
    t_to_p = F.cross_entropy(t[idx] @ p_all.t() / tau, labels, reduction="none")  # ltilde(target_i | P)
    per_video = torch.zeros(b, device=pred.device, dtype=p_to_t.dtype)
    per_video = per_video.index_add(0, idx // s, p_to_t + t_to_p)  # (B,) sum over the video's masked clips
    return global_mean(per_video)


def set_loss(cls_a: Tensor, cls_b: Tensor, tau: float = 0.2) -> Tensor:
    """Set loss, thesis eq. 4.7: ``L_ctr(CLS^1, CLS^2)`` with the other videos of the global batch as negatives.

    Args:
        cls_a: projected CLS outputs of the first sets.
        cls_b: projected CLS outputs of the second sets, row ``i`` from the same video as ``cls_a[i]``.
        tau: temperature.

    Shape:
        cls_a, cls_b: (B, D) -> scalar.
    """
    return symmetric_info_nce(cls_a.float(), cls_b.float(), tau=tau, scale_by_tau=False)
