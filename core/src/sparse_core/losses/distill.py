"""Masked feature distillation to layer-normed teacher features (thesis eq. 7.2-7.3, SF-CLIP)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sparse_core.distributed import global_mean
from sparse_core.losses._dtype import upcast

__all__ = ["masked_feature_distill"]


def masked_feature_distill(student: Tensor, teacher: Tensor, mask: Tensor | None = None, loss: str = "l2",
                           beta: float = 1.0, ln_eps: float = 1e-6, width_reduction: str = "mean") -> Tensor:
    """Squared-L2 distance between student features and layer-normed teacher features (eq. 7.2-7.3).

    The teacher features are layer-normalised without affine parameters (sec. 7.2: "we layer normalize the
    outputs of both teacher models"); the student features are expected already projected to the teacher
    width by the caller's learned linear layer. The thesis distils *all* token positions (masked and unmasked
    inputs alike), so ``mask=None`` uses every token; ``mask`` selects the tokens that enter the loss (the
    non-padding tokens of a text batch, or only the MSK tokens for a masked-only variant).

    Reduction: per token, ``width_reduction="sum"`` is eq. 7.2's squared L2 norm (summed over the feature
    width D); ``"mean"`` (the default here, kept for existing callers) divides it by D (``F.mse_loss``'s element
    mean, so the weights lambda of eq. 7.4 do not depend on the teacher width). Either is then averaged over
    the selected tokens of the global batch (distributed-exact). ``loss="smooth_l1"`` uses
    ``F.smooth_l1_loss`` (with ``beta``) instead of the squared error.

    Args:
        student: student token features after the projection.
        teacher: teacher token features (no gradient is taken).
        mask: tokens counted in the loss, True = counted; None = all.
        loss: ``"l2"`` (eq. 7.2) or ``"smooth_l1"``.
        beta: smooth-L1 threshold.
        ln_eps: epsilon of the teacher layer norm.
        width_reduction: ``"sum"`` (eq. 7.2's squared norm) or ``"mean"`` (divided by D) over the width.

    Shape:
        student, teacher: (B, N, D) (or (B, D)); mask: (B, N) bool (or (B,)) -> scalar.
    """
    if student.shape != teacher.shape:
        raise ValueError(f"student {tuple(student.shape)} and teacher {tuple(teacher.shape)} shapes differ")
    with torch.no_grad():
        target = F.layer_norm(upcast(teacher.detach()), (teacher.shape[-1],), eps=ln_eps)
    s = upcast(student)
    if loss == "l2":
        err = (s - target).pow(2)
    elif loss == "smooth_l1":
        err = F.smooth_l1_loss(s, target, reduction="none", beta=beta)
    else:
        raise ValueError(f"loss must be 'l2' or 'smooth_l1', got {loss!r}")
    if width_reduction not in ("sum", "mean"):
        raise ValueError(f"width_reduction must be 'sum' or 'mean', got {width_reduction!r}")
    per_token = err.sum(dim=-1) if width_reduction == "sum" else err.mean(dim=-1)  # (B, N)
    if mask is not None:
        if mask.shape != per_token.shape:
            raise ValueError(f"mask shape {tuple(mask.shape)} must be {tuple(per_token.shape)}")
        per_token = per_token[mask.bool()]
    return global_mean(per_token)
