"""EMA (momentum) teacher with a cosine momentum schedule (BYOL, MoCo v3, DINO)."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["EMATeacher", "batchnorm_batch_stats", "cosine_momentum", "unwrap_model"]

_WRAPPER_NAMES = frozenset({"_orig_mod", "_fsdp_wrapped_module", "_checkpoint_wrapped_module"})


def unwrap_model(model: nn.Module) -> nn.Module:
    """Strip DDP / accelerate / FSDP(1) ``.module`` and ``torch.compile`` ``._orig_mod`` wrappers."""
    while True:
        inner = getattr(model, "module", None)
        if isinstance(inner, nn.Module):
            model = inner
            continue
        inner = getattr(model, "_orig_mod", None)
        if isinstance(inner, nn.Module):
            model = inner
            continue
        return model


def _clean_name(name: str) -> str:
    """Drop wrapper components (FSDP1, activation checkpointing, torch.compile) from a parameter name."""
    return ".".join(p for p in name.split(".") if p not in _WRAPPER_NAMES)


def _full(t: Tensor) -> Tensor:
    """Materialise a sharded DTensor (FSDP2) as a full local tensor; plain tensors are returned as is."""
    full = getattr(t, "full_tensor", None)
    return full() if callable(full) else t


def cosine_momentum(step: int, total_steps: int, base: float = 0.99, final: float = 1.0) -> float:
    """Momentum ``final - (final - base) * (1 + cos(pi * step / total_steps)) / 2`` (BYOL, DINO).

    Equals ``base`` at step 0 and ``final`` at ``total_steps`` (clamped beyond).
    """
    if total_steps <= 0:
        return final
    t = min(max(step, 0), total_steps) / total_steps
    return final - (final - base) * (1 + math.cos(math.pi * t)) / 2


@contextmanager
def batchnorm_batch_stats(module: nn.Module) -> Iterator[None]:
    """Let the BatchNorm layers of an eval-mode network normalise with the statistics of the current batch.

    MoCo v3's momentum encoder runs in train mode, so its BN layers see batch statistics; this gives the same
    forward to an eval-mode teacher. Running statistics are left untouched (``track_running_stats`` is off
    inside the block) and every layer's previous mode is restored on exit. Under DDP these are per-process
    statistics unless the layers are ``SyncBatchNorm``.

    Args:
        module: any network; only its ``_BatchNorm`` submodules change.
    """
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.training, m.track_running_stats) for m in bns]
    for m in bns:
        m.train()
        m.track_running_stats = False
    try:
        yield
    finally:
        for m, (mode, track) in zip(bns, saved):
            m.train(mode)
            m.track_running_stats = track


class EMATeacher(nn.Module):
    """Exponential-moving-average copy of a student network, without gradients and always in eval mode.

    ``update`` sets ``p_t <- m * p_t + (1 - m) * p_s`` for every parameter (matched by name, wrapper prefixes
    removed) and copies every buffer (BN running statistics, ...). The student may be wrapped by DDP /
    accelerate (``.module``) or ``torch.compile``; sharded FSDP2 parameters are gathered with
    ``full_tensor()`` (build the teacher from the student *before* sharding it, so the teacher is unsharded).
    ``train()`` keeps the teacher in eval mode (dropout / drop-path off, BN uses running statistics).
    The state dict is the wrapped module's, under the prefix ``module.``.

    With ``bn_batch_stats`` the forward normalises BN layers with the current batch's statistics instead of
    the running ones (MoCo v3's momentum encoder, see :func:`batchnorm_batch_stats`); the running statistics
    are still the ones copied from the student.

    Args:
        student: the student network (wrapped or not); deep-copied.
        bn_batch_stats: BN layers of the teacher's forward use batch statistics.

    Shape:
        forward: whatever the student's forward takes and returns (run under ``torch.no_grad``).
    """

    def __init__(self, student: nn.Module, bn_batch_stats: bool = False) -> None:
        super().__init__()
        self.bn_batch_stats = bn_batch_stats
        self.module = copy.deepcopy(unwrap_model(student))
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.module.eval()
        self.training = False

    def train(self, mode: bool = True) -> EMATeacher:
        """Keep the teacher in eval mode whatever ``mode`` is."""
        super().train(False)
        return self

    @torch.no_grad()
    def update(self, student: nn.Module, momentum: float) -> None:
        """EMA step from the student's current weights.

        Args:
            student: the student (wrapped or not), same architecture as the teacher.
            momentum: ``m`` in [0, 1]; 1 keeps the teacher, 0 copies the student.
        """
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        src = unwrap_model(student)
        s_params = {_clean_name(n): p for n, p in src.named_parameters()}
        t_params = {_clean_name(n): p for n, p in self.module.named_parameters()}
        if s_params.keys() != t_params.keys():
            missing = sorted(set(t_params) ^ set(s_params))[:5]
            raise ValueError(f"student and teacher parameters differ, e.g. {missing}")
        names = list(t_params)
        teacher: list[Tensor] = [t_params[n] for n in names]
        student_p = [_full(s_params[n].detach()).to(t.device, t.dtype) for n, t in zip(names, teacher)]
        if teacher and momentum < 1.0:
            torch._foreach_lerp_(teacher, student_p, 1.0 - momentum)  # t + (1 - m)(s - t) = m t + (1 - m) s
        s_bufs = {_clean_name(n): b for n, b in src.named_buffers()}
        for n, b in self.module.named_buffers():
            if _clean_name(n) in s_bufs:
                b.copy_(_full(s_bufs[_clean_name(n)]))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the teacher under ``torch.no_grad`` (BN with batch statistics when ``bn_batch_stats``)."""
        stats = batchnorm_batch_stats(self.module) if self.bn_batch_stats else nullcontext()
        with torch.no_grad(), stats:
            return self.module(*args, **kwargs)
