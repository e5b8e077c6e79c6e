"""SimCLR + DILEMMA (thesis sec. 3.2.2): no teacher; both views are sparsified, mismatched and
fed to the student.

The contrastive term is SimCLR's NT-Xent over the 2B projections of the global batch (each view's positive is
the other view of the same image, all other 2B - 2 projections are negatives).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from dilemma_ssl.backbone import build_backbone
from dilemma_ssl.base import DilemmaTaskBase, batch_views, build_mlp
from dilemma_ssl.config import MethodConfig, ModelConfig
from dilemma_ssl.schedule import SparsitySchedule
from sparse_core.losses import nt_xent

__all__ = ["SimCLRDilemmaTask"]


class SimCLRDilemmaTask(DilemmaTaskBase):
    """SimCLR with sparse, mismatched inputs on both views and the DILEMMA token loss."""

    token_views = "mean"  # NT-Xent is a mean over the 2B anchors of both views: the token loss is averaged too

    def __init__(
        self, model_cfg: ModelConfig, method_cfg: MethodConfig, schedule: SparsitySchedule, seed: int = 0
    ) -> None:
        super().__init__(model_cfg, method_cfg, schedule, seed)
        self.backbone = build_backbone(model_cfg)
        self._init_objective(self.backbone)
        self.projector = build_mlp(model_cfg, int(self.backbone.embed_dim), model_cfg.proj_layers, True)

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, Tensor]:
        """NT-Xent between the two sparse views + lambda * token loss (eq. 3.1) averaged over the two views, as
        NT-Xent averages over the 2B anchors of both views."""
        views = batch_views(batch)[:2]
        b = views[0].shape[0]
        ratio = self.schedule.ratio(step)
        lam = self.token_weight(ratio)
        z, toks, accs = [], [], []
        for i, x in enumerate(views):
            corr = self.draw_tokens(step, i, b, ratio, x.device)
            tokens = self.student_tokens(self.backbone, x, corr)
            z.append(self.projector(tokens[:, 0]))
            if lam > 0:
                loss_i, acc_i = self.token_loss(tokens, corr)
                toks.append(loss_i)
                accs.append(acc_i)
        cnt = nt_xent(z[0], z[1], self.method_cfg.tau)
        tok = self.combine_views(toks) if toks else views[0].new_zeros(())
        return self.step_outputs("loss_contrastive", cnt, lam, tok, accs, ratio, b)
