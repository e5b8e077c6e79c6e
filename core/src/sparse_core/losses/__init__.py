"""Self-supervised losses, one per module; all distributed-exact (see :mod:`sparse_core.distributed`)."""

from sparse_core.losses.centering import centered_softmax, sinkhorn_knopp, update_center
from sparse_core.losses.clip import LogitScale, clip_loss
from sparse_core.losses.contrastive import contrastive_logits, info_nce, symmetric_info_nce
from sparse_core.losses.dino import DINOLoss, teacher_temp_schedule
from sparse_core.losses.distill import masked_feature_distill
from sparse_core.losses.ibot import IBOTPatchLoss
from sparse_core.losses.koleo import koleo_loss
from sparse_core.losses.nt_xent import nt_xent
from sparse_core.losses.pixel import masked_pixel_loss, patchify, pixel_targets

__all__ = [
    "DINOLoss",
    "IBOTPatchLoss",
    "LogitScale",
    "centered_softmax",
    "clip_loss",
    "contrastive_logits",
    "info_nce",
    "koleo_loss",
    "masked_feature_distill",
    "masked_pixel_loss",
    "nt_xent",
    "patchify",
    "pixel_targets",
    "sinkhorn_knopp",
    "symmetric_info_nce",
    "teacher_temp_schedule",
    "update_center",
]
