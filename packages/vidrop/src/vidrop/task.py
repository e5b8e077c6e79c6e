"""The ViDROP training step (sec. 6.2): EMA teacher on dense large clips, student on dropped + masked large
clips and dense small clips; DINO CLS loss, iBOT patch loss on the MSK tokens, KoLeo.

Per-step random choices (which tokens are dropped / masked) come from the engine: drawn for the step's whole
batch (every process, every micro-batch) from ``Task.generator(step, "tokens")``, of which this micro-batch keeps
its rows (``Task.rows``). One process and N processes compute the same loss, ``grad_accum`` micro-batches get
the rows of one whole-batch draw, and a resumed run draws the same tokens.

The heads are DINOv2's (dinov2/layers/dino_head.py): the prototype layer's weight-norm magnitude is trained
from 1 (``head.norm_last_layer=False``), and the prototype layers get lr 0 for the first
``head.freeze_last_layer_epochs`` epochs (DINOv2's ``freeze_last_layer_epochs``, dinov2/train/train.py) through
an engine :class:`~sparse_core.engine.optim.ParamGroup` with ``frozen_steps``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sparse_core.distributed import get_world_size
from sparse_core.ema import EMATeacher, cosine_momentum
from sparse_core.engine import ParamGroup, Task
from sparse_core.heads import DINOHead
from sparse_core.losses import DINOLoss, IBOTPatchLoss, koleo_loss, teacher_temp_schedule
from sparse_core.models.key_bias import hold_key_bias
from vidrop.config import HeadConfig, LossConfig, ViDROPConfig
from vidrop.init import load_init
from vidrop.model import ViDROPEncoder, build_encoder
from vidrop.tokens import StudentTokens, sample_student_tokens

__all__ = ["ViDROPTask", "LOSS_VARIANTS", "LAST_LAYER", "build_student"]

LOSS_VARIANTS = ("ibot", "dino", "stare")
LAST_LAYER = "last_layer"
"""Name of the weight-normed prototype layer in each head (DINOHead.last_layer)."""


def build_student(cfg: ViDROPConfig) -> nn.ModuleDict:
    """Student networks: ``backbone``, ``dino_head`` and (unless shared or unused) ``ibot_head``.

    The heads are :class:`~sparse_core.heads.DINOHead` with ``norm_last_layer=cfg.head.norm_last_layer``
    (default False: DINOv2 trains the prototype magnitude, initialised to 1).
    """
    variant = cfg.loss.variant
    if variant not in LOSS_VARIANTS:
        raise ValueError(f"loss.variant must be one of {LOSS_VARIANTS}, got {variant!r}")
    if cfg.loss.centering not in ("sinkhorn", "centering"):
        raise ValueError(f"loss.centering must be 'sinkhorn' or 'centering', got {cfg.loss.centering!r}")
    backbone = build_encoder(cfg.encoder, mask_token=variant == "ibot")
    h: HeadConfig = cfg.head
    mods: dict[str, nn.Module] = {
        "backbone": backbone,
        "dino_head": DINOHead(backbone.embed_dim, h.out_dim, h.hidden_dim, h.bottleneck_dim, h.num_layers,
                              norm_last_layer=h.norm_last_layer),
    }
    if variant != "dino" and not h.shared:
        mods["ibot_head"] = DINOHead(backbone.embed_dim, h.patch_out_dim, h.hidden_dim, h.bottleneck_dim,
                                     h.num_layers, norm_last_layer=h.norm_last_layer)
    return nn.ModuleDict(mods)


class ViDROPTask(Task):
    """ViDROP as a sparse-core engine task.

    Batch keys: ``"global"`` ``(b, G, 3, Tg, Sg, Sg)`` and optionally ``"local"`` ``(b, L, 3, Tl, Sl, Sl)``
    (from :class:`vidrop.data.views.MultiClipViews`).

    Args:
        cfg: full run config (encoder, head, loss, tokens, train.seed).
        total_steps: length of training (teacher temperature schedule) when the task is used on its own; the
            Trainer sets it through :meth:`setup`.
        steps_per_epoch: optimizer steps per pass over the training set (``len(dataset) // batch_size``, the
            Trainer's epoch), which ``head.freeze_last_layer_epochs`` is counted in; ``None``:
            ``total_steps // train.epochs``.
    """

    def __init__(self, cfg: ViDROPConfig, total_steps: int = 1, steps_per_epoch: int | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.loss_cfg: LossConfig = cfg.loss
        self.total_steps = max(1, total_steps)
        self.steps_per_epoch = steps_per_epoch
        self.seed = cfg.train.seed
        self.student = build_student(cfg)
        self.init_missing = load_init(self.encoder, cfg.init)  # before the teacher copies the student
        hold_key_bias(self.student)  # no effect through the softmax (sparse_core.models.key_bias)
        self.teacher = EMATeacher(self.student)
        lc = cfg.loss
        self.dino_loss = DINOLoss(cfg.head.out_dim, lc.student_temp, lc.center_momentum, skip_same_view=True)
        patch_dim = cfg.head.out_dim if cfg.head.shared else cfg.head.patch_out_dim
        self.ibot_loss = IBOTPatchLoss(patch_dim, lc.student_temp, lc.center_momentum)

    def setup(self, total_steps: int) -> None:
        """Length of training for the teacher temperature schedule and the last-layer freeze (called by the
        Trainer before it builds the optimizer)."""
        self.total_steps = max(1, total_steps)

    @property
    def frozen_last_layer_steps(self) -> int:
        """Optimizer steps during which the prototype layers have lr 0: ``head.freeze_last_layer_epochs`` x
        steps per epoch (DINOv2: 1 epoch)."""
        per_epoch = self.steps_per_epoch
        if per_epoch is None:
            per_epoch = self.total_steps // max(1, self.cfg.train.epochs)
        return self.cfg.head.freeze_last_layer_epochs * per_epoch

    def param_groups(self) -> list[ParamGroup] | None:
        """The student's prototype layers (``<head>.last_layer``) with lr 0 for the first
        :attr:`frozen_last_layer_steps` steps (``None`` when there is no freeze)."""
        frozen = self.frozen_last_layer_steps
        if frozen <= 0:
            return None
        heads = [name for name in ("dino_head", "ibot_head") if name in self.student]
        return [ParamGroup(f"student.{name}.{LAST_LAYER}", frozen_steps=frozen) for name in heads]

    # ------------------------------------------------------------------ helpers
    @property
    def encoder(self) -> ViDROPEncoder:
        """The student backbone."""
        return self.student["backbone"]  # type: ignore[return-value]

    @property
    def teacher_encoder(self) -> ViDROPEncoder:
        """The EMA teacher backbone (used for evaluation, as DINOv2)."""
        return self.teacher.module["backbone"]  # type: ignore[index,return-value]

    def _patch_head(self, nets: nn.ModuleDict) -> nn.Module:
        return nets["dino_head"] if self.cfg.head.shared else nets["ibot_head"]

    def teacher_temp(self, step: int) -> float:
        """Teacher temperature at ``step`` (linear warm-up, DINOv2)."""
        lc = self.loss_cfg
        return teacher_temp_schedule(step, int(lc.teacher_temp_warmup_frac * self.total_steps),
                                     lc.warmup_teacher_temp, lc.teacher_temp)

    def draw_tokens(self, local_batch: int, num_views: int, grid: tuple[int, int, int], step: int,
                    device: torch.device | None = None) -> StudentTokens:
        """Dropped / masked tokens of this micro-batch's ``num_views x local_batch`` student clips (view-major).

        The draw covers the step's whole batch (``num_views x total`` clips indexed by view and sample, from
        ``self.generator(step, "tokens")``); this micro-batch keeps the columns of its rows (``self.rows``).
        """
        rows = self.rows(local_batch, device)
        tc = self.cfg.tokens
        lo, hi = tc.mask_ratio if self.loss_cfg.variant == "ibot" else (0.0, 0.0)
        drawn = sample_student_tokens(num_views * rows.total, grid, tc.drop_ratio, tc.drop_pattern, (lo, hi),
                                      tc.mask_sample_fraction, self.generator(step, "tokens"))
        mine = torch.arange(num_views * rows.total).view(num_views, rows.total)[:, rows.rows].reshape(-1)
        out = StudentTokens(drawn.keep_idx[mine], drawn.mask_kept[mine], drawn.num_tokens)
        return out.to(device) if device is not None else out

    # ------------------------------------------------------------------ step
    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, Tensor]:
        """Compute the ViDROP loss of one batch (see the module docstring)."""
        lc = self.loss_cfg
        glob: Tensor = batch["global"]
        b, n_g = glob.shape[:2]
        glob = glob.transpose(0, 1).flatten(0, 1)  # (G*b, 3, T, S, S), view-major
        grid = self.encoder.grid_of(glob.shape[2], glob.shape[3])
        tokens = self.draw_tokens(b, n_g, grid, step, glob.device)
        temp = self.teacher_temp(step)
        teacher: nn.ModuleDict = self.teacher.module  # type: ignore[assignment]
        variant = lc.variant

        with torch.no_grad():
            t_cls, t_patch = teacher["backbone"](glob)  # (G*b, D), (G*b, N, D)
            t_logits = teacher["dino_head"](t_cls).view(n_g, b, -1)  # (G, b, K)

        dense = tokens.keep_idx.shape[1] == tokens.num_tokens
        keep_idx = None if dense else tokens.keep_idx
        mask = tokens.mask if variant == "ibot" else None
        s_cls, s_patch = self.student["backbone"](glob, keep_idx=keep_idx, mask=mask)  # (G*b, D), (G*b, K, D)
        student_views = list(self.student["dino_head"](s_cls).view(n_g, b, -1).unbind(0))
        if "local" in batch:
            loc: Tensor = batch["local"]
            n_l = loc.shape[1]
            l_cls, _ = self.student["backbone"](loc.transpose(0, 1).flatten(0, 1))
            student_views += list(self.student["dino_head"](l_cls).view(n_l, b, -1).unbind(0))

        out: dict[str, Tensor] = {}
        dino = self.dino_loss(student_views, t_logits, temp, centering=lc.centering)
        out["dino_loss"] = dino.detach()
        loss = lc.dino_weight * dino
        if variant != "dino":
            patch = self.patch_loss(s_patch, t_patch, tokens, temp)
            out["ibot_loss"] = patch.detach()
            loss = loss + lc.ibot_weight * patch
        if lc.koleo_weight > 0 and b * get_world_size() > 1:  # KoLeo needs a nearest neighbour
            koleo = sum(koleo_loss(c) for c in s_cls.view(n_g, b, -1).unbind(0))  # per large view, as DINOv2
            out["koleo_loss"] = koleo.detach()  # type: ignore[union-attr]
            loss = loss + lc.koleo_weight * koleo
        out["loss"] = loss
        out["teacher_temp"] = torch.tensor(temp)
        out["masked_tokens"] = tokens.mask_kept.sum().float()
        return out

    def patch_loss(self, s_patch: Tensor, t_patch: Tensor, tokens: StudentTokens, temp: float) -> Tensor:
        """Patch loss of the 'ibot' (MSK tokens) or 'stare' (all visible tokens) variant.

        Student token ``k`` of clip ``c`` sits at position ``tokens.keep_idx[c, k]``; its target is the teacher's
        dense output at that position. With 'ibot' only the MSK tokens (``tokens.mask_kept``) enter the loss.

        Shape:
            s_patch ``(B, K, D)`` student tokens, t_patch ``(B, N, D)`` teacher tokens -> scalar.
        """
        head_s, head_t = self._patch_head(self.student), self._patch_head(self.teacher.module)  # type: ignore[arg-type]
        if self.loss_cfg.variant == "ibot":
            sel_s, sel_t = tokens.mask_kept, tokens.mask  # row-major orders agree: keep_idx is sorted
        else:
            sel_s, sel_t = torch.ones_like(tokens.mask_kept), tokens.kept
        with torch.no_grad():
            t_logits = head_t(t_patch[sel_t])  # (M, Kp)
        s_logits = head_s(s_patch[sel_s])  # (M, Kp)
        return self.ibot_loss.forward_masked(s_logits, t_logits, sel_t, temp, centering=self.loss_cfg.centering)

    def on_after_step(self, step: int, total_steps: int) -> None:
        """EMA update of the teacher (momentum cosine from ``momentum_teacher`` to 1, DINOv2)."""
        m = cosine_momentum(step, total_steps, base=self.loss_cfg.momentum_teacher, final=1.0)
        self.teacher.update(self.student, m)
