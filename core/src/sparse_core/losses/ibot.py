"""iBOT masked-patch self-distillation loss (iBOT, DINOv2 ``iBOTPatchLoss``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sparse_core.distributed import global_mean
from sparse_core.losses._dtype import upcast
from sparse_core.losses.centering import centered_softmax, sinkhorn_knopp, update_center

__all__ = ["IBOTPatchLoss"]


class IBOTPatchLoss(nn.Module):
    """Cross-entropy between teacher and student patch-token distributions on masked tokens.

    Each sample's loss is the mean over its masked tokens, and the loss is the mean over samples (samples
    without masked tokens count as 0, as DINOv2's ``masks_weight = 1 / n_masked(sample)`` divided by the
    number of samples). Teacher targets use their own center (an EMA of the mean masked teacher token of the
    global batch) or Sinkhorn-Knopp over all masked tokens of the global batch (DINOv2).

    Args:
        patch_out_dim: number of patch prototypes K.
        student_temp: student temperature (0.1).
        center_momentum: EMA momentum of the patch center (0.9).
        sinkhorn_iterations: Sinkhorn iterations (3).
    """

    center: Tensor

    def __init__(self, patch_out_dim: int, student_temp: float = 0.1, center_momentum: float = 0.9,
                 sinkhorn_iterations: int = 3) -> None:
        super().__init__()
        self.student_temp = student_temp
        self.center_momentum = center_momentum
        self.sinkhorn_iterations = sinkhorn_iterations
        self.register_buffer("center", torch.zeros(1, patch_out_dim))

    @torch.no_grad()
    def teacher_targets(self, teacher_masked: Tensor, teacher_temp: float,
                        centering: str = "centering") -> Tensor:
        """Teacher probabilities for the masked tokens (does not update the center).

        Shape:
            teacher_masked: (M, K) -> (M, K) (at least float32).
        """
        if centering == "centering":
            return centered_softmax(teacher_masked, self.center, teacher_temp)
        if centering == "sinkhorn":
            return sinkhorn_knopp(teacher_masked, teacher_temp, self.sinkhorn_iterations)
        raise ValueError(f"centering must be 'centering' or 'sinkhorn', got {centering!r}")

    def forward_masked(self, student_masked: Tensor, teacher_masked: Tensor, mask: Tensor,
                       teacher_temp: float, centering: str = "centering", update: bool = True) -> Tensor:
        """Loss from the head outputs of the masked tokens only (what DINOv2 computes for efficiency).

        Args:
            student_masked: student outputs of the masked tokens, in the row-major order of ``mask``
                (i.e. ``student_tokens[mask]``).
            teacher_masked: teacher outputs of the same tokens.
            mask: which tokens are masked, True = masked.
            teacher_temp: teacher temperature.
            centering: ``"centering"`` or ``"sinkhorn"``.
            update: update the center EMA (centering only).

        Shape:
            student_masked, teacher_masked: (M, K) with ``M = mask.sum()``; mask: (B, N) bool -> scalar.
        """
        mask = mask.bool()
        n_masked = mask.sum(dim=1)  # (B,)
        if student_masked.shape[0] != int(n_masked.sum()):
            raise ValueError(f"got {student_masked.shape[0]} masked outputs, mask has {int(n_masked.sum())}")
        t = teacher_masked.detach()
        targets = self.teacher_targets(t, teacher_temp, centering)  # (M, K)
        log_p = F.log_softmax(upcast(student_masked) / self.student_temp, dim=-1)
        ce = -(targets * log_p).sum(dim=-1)  # (M,)
        weight = (1.0 / n_masked.clamp_min(1).to(ce.dtype)).repeat_interleave(n_masked)  # (M,)
        if centering == "centering" and update:
            update_center(self.center, t, self.center_momentum)
        return global_mean(ce * weight, local_count=float(mask.shape[0]))

    def forward(self, student_patch: Tensor, teacher_patch: Tensor, mask: Tensor, teacher_temp: float,
                centering: str = "centering", update: bool = True) -> Tensor:
        """Loss from dense patch outputs and a token mask.

        Shape:
            student_patch, teacher_patch: (B, N, K); mask: (B, N) bool (True = masked) -> scalar.
        """
        mask = mask.bool()
        s, t = student_patch[mask], teacher_patch[mask]  # (M, K)
        return self.forward_masked(s, t, mask, teacher_temp, centering, update)
