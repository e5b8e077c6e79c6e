"""MoCo v3 + DILEMMA, the main model of thesis ch. 3 (Fig. 3.2, eq. 3.1-3.4).

The EMA teacher sees every token of one view with correct positions; the student sees a random subset of the
other view's tokens, a fraction theta of them with a dropped token's position embedding. The loss is the
symmetrised MoCo v3 contrastive loss between the student's predicted CLS projection and the teacher's CLS
projection, plus ``lambda`` times the DILEMMA loss of eq. 3.1 (eq. 3.4): the binary cross-entropy of a linear
mismatch head summed over each image's kept tokens, averaged over images and summed over the two student views
like the two contrastive directions (``method.token_reduction: mean`` is the mean-over-tokens ablation).

Flags give the baselines from the same code: ``objective='none'`` (or ``lambda_dilemma=0``) is +Sparsity and
``sparsity=[0.0]`` with ``objective='none'`` is dense MoCo v3.

Architecture and initialisation follow MoCo v3's ViT recipe (facebookresearch/moco-v3, ``moco/builder.py``
``MoCo_ViT`` and ``vits.py`` ``VisionTransformerMoCo``; the public DILEMMA code builds the same model):

* projector ``_build_mlp(3, D, 4096, 256)`` and a predictor of ``model.pred_layers`` layers: 3 by default, as
  thesis sec. 3.2.2 writes ("a 3-layer MLP for the projection and prediction heads"); ``pred_layers: 2`` is MoCo
  v3's ViT predictor ``_build_mlp(2, 256, 4096, 256)``. Both with MoCo v3's default ``last_bn=True``: hidden
  Linear(bias=False) + BN + ReLU, then a Linear followed by a BatchNorm1d *without* affine parameters (only
  MoCo v3's ResNet variant drops the predictor's last BN);
* :func:`init_mocov3_vit` on the backbone before the momentum teacher copies it (MoCo v3 copies the base
  encoder into the momentum encoder at construction); the heads keep PyTorch's default initialisation, as in
  MoCo v3, where they are built after the ViT's own initialisation;
* the patch projection frozen (``stop_grad_conv1``): ``model.freeze_patch_embed`` (default True).
"""

from __future__ import annotations

import math
from typing import Any, cast

import torch
from torch import Tensor, nn

from dilemma_ssl.backbone import build_backbone
from dilemma_ssl.base import DilemmaTaskBase, Encoder, batch_views, build_mlp
from dilemma_ssl.config import MethodConfig, ModelConfig
from dilemma_ssl.schedule import SparsitySchedule
from sparse_core.ema import EMATeacher, cosine_momentum
from sparse_core.losses import info_nce

__all__ = ["MoCoV3DilemmaTask", "init_mocov3_vit", "patch_embed_bound", "qkv_bound"]


def qkv_bound(weight: Tensor) -> float:
    """Xavier-uniform bound of a fused ``qkv`` weight (3D, D) treated as three (D, D) matrices:
    ``sqrt(6 / (3D / 3 + D))`` (MoCo v3 ``vits.py``)."""
    return math.sqrt(6.0 / (weight.shape[0] // 3 + weight.shape[1]))


def patch_embed_bound(weight: Tensor) -> float:
    """Xavier-uniform bound of the patch projection seen as a linear map of the flattened patch:
    ``sqrt(6 / (C p^2 + D))`` for a (D, C, p, p) conv weight (MoCo v3: ``sqrt(6 / (3 p^2 + D))``, RGB)."""
    return math.sqrt(6.0 / (weight[0].numel() + weight.shape[0]))


@torch.no_grad()
def init_mocov3_vit(backbone: nn.Module) -> None:
    """MoCo v3's ViT initialisation (facebookresearch/moco-v3 ``vits.py``, ``VisionTransformerMoCo``), in place.

    * every ``nn.Linear``: Xavier-uniform weight and zero bias, except the fused ``qkv`` projections, whose
      uniform bound :func:`qkv_bound` treats Q, K and V as three separate matrices;
    * the patch projection (a p x p conv with stride p): uniform in ``+-`` :func:`patch_embed_bound`, i.e.
      Xavier-uniform of the linear map from the flattened patch to the token, and zero bias;
    * the CLS token: normal with std 1e-6.

    Norm layers and the (fixed sin-cos or learned) position embedding are left as they are. Whether the patch
    projection is trained is ``ModelConfig.freeze_patch_embed``'s business (MoCo v3's ``stop_grad_conv1``).

    Args:
        backbone: a ``SparseVisionTransformer`` (timm ViT names: ``patch_embed.proj``, ``blocks.*.attn.qkv``).
    """
    for name, module in backbone.named_modules():
        if isinstance(module, nn.Linear):
            if name.split(".")[-1] == "qkv":
                bound = qkv_bound(module.weight)
                nn.init.uniform_(module.weight, -bound, bound)
            else:
                nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    proj = cast(nn.Conv2d, cast(nn.Module, backbone.patch_embed).proj)
    bound = patch_embed_bound(proj.weight)
    nn.init.uniform_(proj.weight, -bound, bound)
    if proj.bias is not None:
        nn.init.zeros_(proj.bias)
    cls_token = getattr(backbone, "cls_token", None)
    if isinstance(cls_token, Tensor):
        nn.init.normal_(cls_token, std=1e-6)


class MoCoV3DilemmaTask(DilemmaTaskBase):
    """MoCo v3 (+Sparsity) (+DILEMMA or an ablation objective).

    Heads and initialisation as MoCo v3's ViT (see the module docstring): 3-layer projector and a predictor of
    ``model.pred_layers`` layers (thesis sec. 3.2.2: 3; MoCo v3: 2), each ending in a BN without affine;
    :func:`init_mocov3_vit` on the backbone.

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
        init_mocov3_vit(backbone)
        self._init_objective(backbone)
        self.student = Encoder(
            backbone, build_mlp(model_cfg, int(backbone.embed_dim), model_cfg.proj_layers, True)
        )
        # thesis sec. 3.2.2: 3 layers (MoCo_ViT: _build_mlp(2, dim, mlp_dim, dim)); last_bn=True as MoCo v3
        self.predictor = build_mlp(model_cfg, model_cfg.proj_dim, model_cfg.pred_layers, True)
        self.teacher = EMATeacher(self.student, bn_batch_stats=True)  # MoCo v3: BN with batch statistics

    @property
    def backbone(self) -> nn.Module:
        """The student's ViT (what is exported and evaluated)."""
        return self.student.backbone

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, Tensor]:
        """Eq. 3.4: the symmetrised MoCo v3 contrastive loss (the sum of both directions) + lambda times the
        token loss of eq. 3.1, summed over the two student views like the contrastive term
        (``method.token_reduction: mean``: the mean over tokens and views, an ablation).

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
        toks: list[Tensor] = []
        accs: list[Tensor] = []
        for i, x in enumerate(views):
            keep = self.attention_keep(self.teacher.module.backbone, x, ratio)
            corr = self.draw_tokens(step, i, b, ratio, x.device, keep_idx=keep)
            tokens = self.student_tokens(self.student.backbone, x, corr)  # (B, 1 + K, D)
            q = self.predictor(self.student.projector(tokens[:, 0]))  # (B, G)
            cnt = cnt + info_nce(q, keys[1 - i], tau)
            if lam > 0:
                loss_i, acc_i = self.token_loss(tokens, corr)
                toks.append(loss_i)
                accs.append(acc_i)
        tok = self.combine_views(toks) if toks else cnt.new_zeros(())
        return self.step_outputs("loss_contrastive", cnt, lam, tok, accs, ratio, b)

    def on_after_step(self, step: int, total_steps: int) -> None:
        """EMA update of the teacher with momentum on a cosine schedule from ``momentum`` to 1."""
        m = cosine_momentum(step, total_steps, base=self.method_cfg.momentum, final=1.0)
        self.teacher.update(self.student, m)
