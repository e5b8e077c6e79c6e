"""DINO self-distillation loss on CLS outputs with centering or Sinkhorn-Knopp (DINO, DINOv2)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sparse_core.distributed import global_mean
from sparse_core.losses._dtype import upcast
from sparse_core.losses.centering import centered_softmax, sinkhorn_knopp, update_center

__all__ = ["DINOLoss", "teacher_temp_schedule"]


def _as_views(x: Tensor | Sequence[Tensor]) -> list[Tensor]:
    if isinstance(x, Tensor):
        if x.dim() != 3:
            raise ValueError(f"expected (V, B, K) or a sequence of (B, K) tensors, got {tuple(x.shape)}")
        return list(x.unbind(0))
    return list(x)


def teacher_temp_schedule(step: int, warmup_steps: int, warmup_temp: float = 0.04,
                          final_temp: float = 0.07) -> float:
    """Teacher temperature: linear warm-up from ``warmup_temp`` to ``final_temp``, then constant (DINO).

    DINO warms up over epochs with ``np.linspace``; here the schedule is per optimizer step and reaches
    ``final_temp`` at ``step == warmup_steps``.
    """
    if warmup_steps <= 0 or step >= warmup_steps:
        return final_temp
    return warmup_temp + (final_temp - warmup_temp) * max(step, 0) / warmup_steps


class DINOLoss(nn.Module):
    """Multi-crop cross-entropy between teacher targets and student predictions (DINO eq. 1).

    ``L = mean_{(v, w), v != w} mean_i H(P_t(x_i^v), P_s(x_i^w))`` with ``P_s = softmax(s / student_temp)``
    and teacher targets either ``softmax((t - center) / teacher_temp)`` (DINO centering; the center is an EMA
    of the global-batch mean teacher output, updated *after* the targets are computed) or Sinkhorn-Knopp
    (DINOv2).
    Teacher view ``v`` and student view ``v`` are the same crop (the first views of the student are the
    global crops the teacher saw) and are skipped when ``skip_same_view`` (DINO).

    Args:
        out_dim: number of prototypes K.
        student_temp: student temperature (DINO: 0.1).
        center_momentum: EMA momentum of the center (DINO: 0.9).
        sinkhorn_iterations: iterations when ``centering="sinkhorn"`` (DINOv2: 3).
        skip_same_view: exclude pairs of the same view (DINO). DINOv2 instead pairs each student global crop
            with the other teacher crop: pass the teacher views in swapped order and
            ``skip_same_view=False``.
    """

    center: Tensor

    def __init__(self, out_dim: int, student_temp: float = 0.1, center_momentum: float = 0.9,
                 sinkhorn_iterations: int = 3, skip_same_view: bool = True) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.student_temp = student_temp
        self.center_momentum = center_momentum
        self.sinkhorn_iterations = sinkhorn_iterations
        self.skip_same_view = skip_same_view
        self.register_buffer("center", torch.zeros(1, out_dim))

    @torch.no_grad()
    def teacher_targets(self, teacher_out: Tensor, teacher_temp: float,
                        centering: str = "centering") -> Tensor:
        """Teacher probabilities (does not update the center).

        Shape:
            teacher_out: (V_t, B, K) -> (V_t, B, K) (at least float32), rows sum to 1.
        """
        if centering == "centering":
            return centered_softmax(teacher_out, self.center, teacher_temp)
        if centering == "sinkhorn":
            flat = teacher_out.reshape(-1, teacher_out.shape[-1])  # all crops jointly, as DINOv2
            return sinkhorn_knopp(flat, teacher_temp, self.sinkhorn_iterations).reshape(teacher_out.shape)
        raise ValueError(f"centering must be 'centering' or 'sinkhorn', got {centering!r}")

    def forward(self, student_out: Tensor | Sequence[Tensor], teacher_out: Tensor | Sequence[Tensor],
                teacher_temp: float, centering: str = "centering", update: bool = True) -> Tensor:
        """Compute the loss and (with ``centering="centering"`` and ``update``) update the center.

        Args:
            student_out: student head outputs per view (global crops first).
            teacher_out: teacher head outputs per view (no gradient is taken through them).
            teacher_temp: current teacher temperature (see :func:`teacher_temp_schedule`).
            centering: ``"centering"`` (DINO) or ``"sinkhorn"`` (DINOv2).
            update: update the center EMA after computing the targets.

        Shape:
            student_out: (V_s, B, K) or V_s x (B, K); teacher_out: (V_t, B, K) or V_t x (B, K) -> scalar.
        """
        s_views = _as_views(student_out)
        t = torch.stack(_as_views(teacher_out)).detach()  # (V_t, B, K)
        targets = self.teacher_targets(t, teacher_temp, centering)
        per_sample = upcast(t.new_zeros(t.shape[1]))  # (B,)
        n_terms = 0
        for iv, tv in enumerate(targets):
            for js, sv in enumerate(s_views):
                if self.skip_same_view and js == iv:
                    continue
                log_p = F.log_softmax(upcast(sv) / self.student_temp, dim=-1)  # (B, K)
                per_sample = per_sample - (tv * log_p).sum(dim=-1)
                n_terms += 1
        if n_terms == 0:
            raise ValueError("no (teacher, student) view pairs left; pass more views or skip_same_view=False")
        if centering == "centering" and update:
            update_center(self.center, t.reshape(-1, t.shape[-1]), self.center_momentum)
        return global_mean(per_sample / n_terms)
