"""The SF-CLIP training step: CLIP loss on the whole batch plus masked distillation on a random subset.

``L_total = L_CLIP + lambda_1 L_VD + lambda_2 L_TD`` (thesis eq. 7.4). ``L_CLIP`` (eq. 7.1) is core's
``clip_loss``: the *sum* of the two directions, each a mean over the global batch with negatives gathered with
gradient from every process; open_clip's ``ClipLoss`` averages the two directions, i.e. it is half of this
value. ``L_VD`` / ``L_TD`` (eq. 7.2-7.3) are core's ``masked_feature_distill``: per token the squared L2 norm
of the difference to the layer-normed teacher features, summed over the feature width D as the equations write
it, averaged over the distilled tokens (``distill.reduction: mean`` divides by D, the width-independent
weighting of ``F.mse_loss``-style code, as a named option). The distilled rows are a random subset of the
step's global batch (``distill.*_ratio``) drawn from the per-step generator; the teachers see only those rows;
the student's text input is masked (input tokens zeroed, M_t of eq. 7.3) on up to ``distill.text_mask_ratio``
of each subset caption, and its images optionally through the ViT's mask token. A sample with several captions
(a multi-line ``.txt``, LaCLIP rewrites) contributes one of them per step, drawn from the per-step generator
for the global batch (:func:`sfclip.captions.draw_captions`). The subset's masked texts take a second, extra
pass through the text student; the CLIP loss always sees the unmasked batch.

With ``distill.precomputed`` (sec. 7.2.2) the targets of the subset are read from the store written by
``sfclip-precompute`` (:class:`~sfclip.teacher_store.TeacherFeatures`, keyed by ``batch["index"]``): no vision
teacher is built and the text teacher only lends its tokenizer (and word table); no teacher runs.

Ablations (Table 7.8) are settings: no text teacher = ``distill.text_ratio 0`` (or ``lambda_text 0``; with
learned embeddings the teacher network is not even loaded), no text masking = ``distill.text_mask_ratio 0``,
learned embeddings = ``text.word_embedding_projection false``, no image teacher = ``teacher.vision []`` (or
``image_ratio 0``), image masking = ``distill.image_mask_ratio > 0``, subset ratios and full-batch distillation
= ``distill.image_ratio`` / ``text_ratio`` (1.0: every row); :mod:`sfclip.ablations` lists the rows. A
distillation that is off has no projection head (every trainable parameter gets a gradient, as DDP needs).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sfclip.captions import CAPTION_STREAM, draw_captions
from sfclip.config import SFCLIPConfig
from sfclip.teacher_store import TeacherFeatures
from sfclip.teachers import TextTeacher, VisionTeacher, build_teachers
from sfclip.towers import StudentTowers, build_towers
from sparse_core.distributed import global_mean
from sparse_core.engine import Task
from sparse_core.losses.clip import clip_loss
from sparse_core.losses.distill import masked_feature_distill

__all__ = ["SFCLIPTask", "subset_rows", "TEACHER_PREFIXES"]

TEACHER_PREFIXES = ("text_teacher.", "vision_teachers.")
"""State-dict prefixes of the frozen teachers: left out of the task's state dict (checkpoints hold only what
trains; the teachers are rebuilt from the config)."""


def _drop_teachers(module: nn.Module, state: dict[str, Any], prefix: str, local_metadata: Any) -> None:
    """State-dict hook: remove the teachers' entries."""
    for key in [k for k in state if k[len(prefix):].startswith(TEACHER_PREFIXES)]:
        del state[key]


def _teachers_not_missing(module: nn.Module, keys: Any) -> None:
    """Load post-hook: the teachers' entries are not missing from a checkpoint (they are never saved)."""
    for key in [k for k in keys.missing_keys if k.startswith(TEACHER_PREFIXES)]:
        keys.missing_keys.remove(key)


def subset_rows(ratio: float, total: int, rows: slice, generator: torch.Generator) -> Tensor:
    """Local indices of the rows chosen for distillation: ``round(ratio * total)`` of the global batch.

    Args:
        ratio: fraction of the global batch distilled.
        total: global batch size of the step.
        rows: this micro-batch's rows in the step batch.
        generator: the step's generator of this choice.

    Returns:
        sorted local row indices, (k_local,) long.
    """
    chosen = torch.zeros(total, dtype=torch.bool)
    chosen[torch.randperm(total, generator=generator)[: round(ratio * total)]] = True
    return chosen[rows].nonzero().flatten()


def _empty_distill(pred: Tensor) -> Tensor:
    """Zero distillation loss on a process without subset rows (keeps the graph and the collective call)."""
    return global_mean(pred.new_zeros(0)) + 0.0 * pred.sum()


class SFCLIPTask(StudentTowers, Task):
    """SF-CLIP towers, frozen teachers, distillation projections and the loss of eq. 7.4.

    Args:
        cfg: the run configuration.
        text_teacher: a ready text teacher (default: built from ``cfg.teacher``).
        vision_teachers: ready vision teachers by name, ``{}`` for none (default: built from ``cfg.teacher``).
        features: precomputed teacher features (default: opened from ``cfg.distill.precomputed`` when set);
            given, the vision teachers are neither built nor run.
    """

    def __init__(self, cfg: SFCLIPConfig, text_teacher: TextTeacher | None = None,
                 vision_teachers: dict[str, VisionTeacher] | None = None,
                 features: TeacherFeatures | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.distill
        if features is None and d.precomputed:
            features = TeacherFeatures(d.precomputed, cfg)
        self.features = features
        if text_teacher is None or vision_teachers is None:
            # under a forked CPU RNG: the students' initialisation does not depend on which teachers are built
            # (a run with precomputed features starts from the same weights as the online run of its seed)
            with torch.random.fork_rng(devices=[]):
                built_text, built_vision = build_teachers(cfg, online=features is None)
            text_teacher = text_teacher or built_text
            vision_teachers = built_vision if vision_teachers is None else vision_teachers
        self.text_teacher = text_teacher
        self.vision_teachers = nn.ModuleDict(vision_teachers if features is None else {})
        v, x = cfg.vision, cfg.text
        self.student = build_towers(cfg, self.text_teacher)
        # learned projections from student tokens to teacher features (training only, not exported); only for
        # the distillations that run, so every trainable parameter gets a gradient
        if features is not None:
            vision_dims = features.dims if d.image_on else {}
            text_dim = features.text_dim if d.text_on else 0
        else:
            vision_dims = {k: m.dim for k, m in vision_teachers.items()} if d.image_on else {}
            text_dim = self.text_teacher.dim if d.text_on else 0
        self.text_distill = nn.Linear(x.width, text_dim) if text_dim else None
        self.vision_distill = nn.ModuleDict({k: nn.Linear(v.embed_dim, dim) for k, dim in vision_dims.items()})
        self._register_state_dict_hook(_drop_teachers)
        self.register_load_state_dict_post_hook(_teachers_not_missing)

    def train(self, mode: bool = True) -> SFCLIPTask:
        """Set the student's mode; the teachers stay in eval mode."""
        super().train(mode)
        self.text_teacher.train(False)
        self.vision_teachers.train(False)
        return self

    def tokenize(self, captions: list[str], device: torch.device) -> dict[str, Tensor]:
        """The teacher tokenizer's ids and attention mask of ``captions`` on ``device``."""
        enc = self.text_teacher.tokenize(captions, self.cfg.text.context_length)
        return {k: v.to(device) for k, v in enc.items()}

    def _vision_distill(self, images: Tensor, tokens: Tensor, idx: Tensor, step: int, total: int,
                        rows: slice, index: Tensor | None) -> Tensor:
        """L_VD on the subset ``idx``, summed over the vision teachers: each teacher's projection of the
        student tokens vs its layer-normed feature map."""
        d = self.cfg.distill
        if d.image_mask_ratio > 0:
            n = tokens.shape[1]
            noise = torch.rand(total, n, generator=self.generator(step, "image_mask"))[rows].to(images.device)
            mask = noise.argsort(dim=1).argsort(dim=1) < round(d.image_mask_ratio * n)  # exact count per image
            student = self.vision.tokens(images[idx], mask=mask[idx])
        else:
            student = tokens[idx]
        gh, gw = self.vision.grid
        loss = student.new_zeros(())
        for name, head in self.vision_distill.items():
            pred = head(student)  # (k, N, D_t)
            if idx.numel() == 0:
                loss = loss + _empty_distill(pred)
                continue
            if self.features is not None:
                assert index is not None
                target = self.features.vision(name, index[idx], images.device)  # (k, D_t, h, w)
            else:
                target = self.vision_teachers[name](images[idx])
            grid = pred.transpose(1, 2).reshape(pred.shape[0], -1, gh, gw)
            if (gh, gw) != tuple(target.shape[-2:]):  # align token grids by interpolating the student's
                grid = F.interpolate(grid, size=target.shape[-2:], mode="bilinear", align_corners=False)
            loss = loss + masked_feature_distill(grid.flatten(2).transpose(1, 2), target.flatten(2).transpose(1, 2),
                                                 width_reduction=d.reduction)
        return loss

    def _text_distill(self, enc: dict[str, Tensor], idx: Tensor, step: int, total: int, rows: slice,
                      index: Tensor | None) -> Tensor:
        """L_TD on the subset ``idx``: masked student tokens vs the teacher's hidden states of the whole caption."""
        ids, att = enc["input_ids"][idx], enc["attention_mask"][idx].bool()
        ctx = self.cfg.text.context_length
        g = self.generator(step, "text_mask")
        ratio = torch.rand(total, 1, generator=g) * self.cfg.distill.text_mask_ratio  # per caption, U[0, max]
        zero = (torch.rand(total, ctx, generator=g) < ratio)[rows][:, : ids.shape[1]].to(ids.device)
        zero = zero[idx] & att
        assert self.text_distill is not None
        pred = self.text_distill(self.text.tokens(ids, att, zero=zero))
        if idx.numel() == 0:
            return _empty_distill(pred)
        if self.features is not None:
            assert index is not None
            target = self.features.text(index[idx], ids.shape[1], ids.device)
        else:
            target = self.text_teacher(ids, att)
        return masked_feature_distill(pred, target, mask=att, width_reduction=self.cfg.distill.reduction)

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, Tensor]:
        """Loss of eq. 7.4 on one micro-batch (``image`` (b, 3, H, W) in [0, 1], ``caption``: b entries, each a
        string or a list of captions of that image, one drawn per step)."""
        images = batch["image"]
        gr = self.rows(images.shape[0])
        captions = draw_captions(batch["caption"], self.generator(step, CAPTION_STREAM), gr)
        enc = self.tokenize(captions, images.device)
        d = self.cfg.distill
        img_tokens = self.vision.tokens(images)
        txt_tokens = self.text.tokens(enc["input_ids"], enc["attention_mask"])
        v = self.vision.embed(img_tokens)
        t = self.text.embed(txt_tokens, enc["attention_mask"])
        scale = self.student["logit_scale"]()
        out: dict[str, Tensor] = {"clip": clip_loss(v, t, scale, normalize=False, gather=True)}
        loss = out["clip"]
        index = batch.get("index")
        if self.features is not None and index is None:
            raise ValueError("distill.precomputed needs batch['index'] (the dataset index of each pair)")
        if len(self.vision_distill):
            idx = subset_rows(d.image_ratio, gr.total, gr.rows, self.generator(step, "distill_image"))
            out["vd"] = self._vision_distill(images, img_tokens, idx.to(images.device), step, gr.total, gr.rows,
                                             index)
            loss = loss + d.lambda_image * out["vd"]
        if self.text_distill is not None:
            idx = subset_rows(d.text_ratio, gr.total, gr.rows, self.generator(step, "distill_text"))
            out["td"] = self._text_distill(enc, idx.to(images.device), step, gr.total, gr.rows, index)
            loss = loss + d.lambda_text * out["td"]
        out["loss"] = loss
        out["logit_scale"] = scale.detach()
        return out
