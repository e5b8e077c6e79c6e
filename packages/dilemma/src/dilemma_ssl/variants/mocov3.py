"""MoCo v3 + DILEMMA, the main model of thesis ch. 3 (Fig. 3.2, eq. 3.1-3.4).

The EMA teacher sees every token of one view with correct positions; the student sees a random subset of the
other view's tokens, a fraction theta of them with a dropped token's position embedding. The loss is the
symmetrised MoCo v3 contrastive loss between the student's predicted CLS projection and the teacher's CLS
projection, plus ``lambda`` times the per-token binary cross-entropy of a linear mismatch head (eq. 3.4).

Flags give the baselines from the same code: ``objective='none'`` (or ``lambda_dilemma=0``) is +Sparsity and
``sparsity=[0.0]`` with ``objective='none'`` is dense MoCo v3.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from dilemma_ssl.backbone import build_backbone
from dilemma_ssl.base import DilemmaTaskBase, Encoder, batch_views, build_mlp
from dilemma_ssl.config import MethodConfig, ModelConfig
from dilemma_ssl.schedule import SparsitySchedule
from sparse_core.ema import EMATeacher, cosine_momentum
from sparse_core.losses import info_nce

__all__ = ["MoCoV3DilemmaTask"]


class MoCoV3DilemmaTask(DilemmaTaskBase):
    """MoCo v3 (+Sparsity) (+DILEMMA or an ablation objective).

    Args:
        model_cfg: backbone and head architecture.
        method_cfg: method flags (objective, lambda, theta, tau, momentum, drop policy).
        schedule: per-step sparsity ratio and batch size.
        seed: run seed (per-step token draws derive from it).
    """

    def __init__(
        self, model_cfg: ModelConfig, method_cfg: MethodConfig, schedule: SparsitySchedule, seed: int = 0
    ) -> None:
        super().__init__(model_cfg, method_cfg, schedule, seed)
        backbone = build_backbone(model_cfg)
        self._init_objective(backbone)
        self.student = Encoder(
            backbone, build_mlp(model_cfg, int(backbone.embed_dim), model_cfg.proj_layers, True)
        )
        self.predictor = build_mlp(model_cfg, model_cfg.proj_dim, model_cfg.pred_layers, False)
        self.teacher = EMATeacher(self.student, bn_batch_stats=True)  # MoCo v3: BN with batch statistics

    @property
    def backbone(self) -> nn.Module:
        """The student's ViT (what is exported and evaluated)."""
        return self.student.backbone

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, Tensor]:
        """Symmetrised MoCo v3 + lambda * token loss on two views.

        Shape:
            batch["views"] (or "image"): two (B, C, H, W) tensors.
        """
        views = batch_views(batch)[:2]
        b = views[0].shape[0]
        ratio = self.schedule.ratio(step)
        lam = self.token_weight(ratio)
        keys = [self.teacher(v) for v in views]  # 2 x (B, G), dense, correct positions
        tau = self.method_cfg.tau
        cnt = views[0].new_zeros(())
        tok = views[0].new_zeros(())
        accs = []
        for i, x in enumerate(views):
            keep = self.attention_keep(self.teacher.module.backbone, x, ratio)
            corr = self.draw_tokens(step, i, b, ratio, x.device, keep_idx=keep)
            tokens = self.student_tokens(self.student.backbone, x, corr)  # (B, 1 + K, D)
            q = self.predictor(self.student.projector(tokens[:, 0]))  # (B, G)
            cnt = cnt + info_nce(q, keys[1 - i], tau)
            if lam > 0:
                loss_i, acc_i = self.token_loss(tokens, corr)
                tok = tok + loss_i / len(views)
                accs.append(acc_i)
        return self.step_outputs("loss_contrastive", cnt, lam, tok, accs, ratio, b)

    def on_after_step(self, step: int, total_steps: int) -> None:
        """EMA update of the teacher with momentum on a cosine schedule from ``momentum`` to 1."""
        m = cosine_momentum(step, total_steps, base=self.method_cfg.momentum, final=1.0)
        self.teacher.update(self.student, m)
