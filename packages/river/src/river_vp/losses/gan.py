"""Adversarial terms of VQGAN: hinge discriminator loss and the
adaptive generator weight (Esser et al. eq. 7).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sparse_core.distributed import all_reduce_mean

__all__ = ["adaptive_weight", "hinge_d_loss"]


def hinge_d_loss(logits_real: Tensor, logits_fake: Tensor) -> Tensor:
    """``0.5 (mean relu(1 - D(x)) + mean relu(1 + D(x_hat)))``.

    Shape:
        logits_real, logits_fake: (B, 1, h, w) patch logits; returns a scalar.
    """
    return 0.5 * (F.relu(1.0 - logits_real).mean() + F.relu(1.0 + logits_fake).mean())


def adaptive_weight(rec_loss: Tensor, g_loss: Tensor, last_layer: Tensor, max_weight: float = 1e4) -> Tensor:
    """``lambda = ||grad_L rec|| / (||grad_L g|| + 1e-4)`` at the
    decoder's last layer L, clamped, no gradient.

    Under DDP both gradients are averaged over processes first (as DDP averages the parameter gradients), so
    every process uses the weight of the whole batch, as one process holding that batch does, not the weight
    of its own share. A collective then: every process calls it in the same step.
    """
    g_rec = all_reduce_mean(torch.autograd.grad(rec_loss, last_layer, retain_graph=True)[0])
    g_adv = all_reduce_mean(torch.autograd.grad(g_loss, last_layer, retain_graph=True)[0])
    return (g_rec.norm() / (g_adv.norm() + 1e-4)).clamp(0.0, max_weight).detach()
