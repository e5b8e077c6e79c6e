"""DINO + DILEMMA with multi-crop (thesis sec. 3.2.2, Table 3.1).

Constant sparsity (and position mismatch) on the two large crops the student sees, none on the small crops;
the EMA teacher sees the two large crops densely. Loss: sparse-core's DINO loss + lambda * the token loss of
eq. 3.1 averaged over the two global crops.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from dilemma_ssl.backbone import build_backbone, encode
from dilemma_ssl.base import DilemmaTaskBase, Encoder, batch_views
from dilemma_ssl.config import MethodConfig, ModelConfig
from dilemma_ssl.schedule import SparsitySchedule
from sparse_core.ema import EMATeacher, cosine_momentum
from sparse_core.heads import DINOHead
from sparse_core.losses import DINOLoss, teacher_temp_schedule

__all__ = ["DINODilemmaTask"]


class DINODilemmaTask(DilemmaTaskBase):
    """DINO (multi-crop) with sparse, mismatched global crops for the student."""

    token_views = "mean"  # DINO's loss is a mean over its (teacher crop, student crop) pairs

    def __init__(
        self, model_cfg: ModelConfig, method_cfg: MethodConfig, schedule: SparsitySchedule, seed: int = 0
    ) -> None:
        super().__init__(model_cfg, method_cfg, schedule, seed)
        if method_cfg.objective == "partial_jigsaw":
            raise ValueError("partial_jigsaw is implemented for the mocov3 and simclr variants only")
        backbone = build_backbone(model_cfg, dynamic_img_size=True)
        self._init_objective(backbone)
        head = DINOHead(int(backbone.embed_dim), out_dim=method_cfg.dino.out_dim)
        self.student = Encoder(backbone, head)
        self.teacher = EMATeacher(self.student)
        self.dino_loss = DINOLoss(method_cfg.dino.out_dim)

    @property
    def backbone(self) -> torch.nn.Module:
        """The student's ViT."""
        return self.student.backbone

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, Tensor]:
        """DINO loss of (2 global + L local) student crops vs 2 dense teacher crops, + lambda * token loss.

        Shape:
            batch["views"]: 2 x (B, C, S, S) global crops then L x (B, C, s, s) local crops.
        """
        views = batch_views(batch)
        globals_, locals_ = views[:2], views[2:]
        b = globals_[0].shape[0]
        ratio = self.schedule.ratio(step)
        lam = self.token_weight(ratio)
        teacher_out = [self.teacher(g) for g in globals_]  # 2 x (B, K)
        student_out, toks, accs = [], [], []
        for i, x in enumerate(globals_):
            keep = self.attention_keep(self.teacher.module.backbone, x, ratio)
            corr = self.draw_tokens(step, i, b, ratio, x.device, keep_idx=keep)
            tokens = self.student_tokens(self.student.backbone, x, corr)
            student_out.append(self.student.projector(tokens[:, 0]))
            if lam > 0:
                loss_i, acc_i = self.token_loss(tokens, corr)
                toks.append(loss_i)
                accs.append(acc_i)
        for x in locals_:
            student_out.append(self.student.projector(encode(self.student.backbone, x)[:, 0]))
        d = self.method_cfg.dino
        temp = teacher_temp_schedule(step, d.teacher_temp_warmup_steps, 0.04, d.teacher_temp)
        dino = self.dino_loss(student_out, teacher_out, temp)
        tok = self.combine_views(toks) if toks else globals_[0].new_zeros(())
        return self.step_outputs("loss_dino", dino, lam, tok, accs, ratio, b)

    def on_after_step(self, step: int, total_steps: int) -> None:
        """EMA update of the teacher (cosine momentum from ``momentum`` to 1)."""
        self.teacher.update(self.student, cosine_momentum(step, total_steps, base=self.method_cfg.momentum))
