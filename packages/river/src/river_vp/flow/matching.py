"""Conditional optimal-transport probability paths of flow matching (thesis eq. 5.4-5.6, Lipman et al.).

The path from noise ``z0 ~ N(0, I)`` (t = 0) to a data sample ``z1`` (t = 1) is Gaussian,
``p_t(z | z1) = N(z | t z1, (1 - (1 - sigma_min) t)^2 I)``, and its conditional vector field is eq. 5.6::

    u_t(z | z1) = (z1 - (1 - sigma_min) z) / (1 - (1 - sigma_min) t)

For a point built from noise, ``z = t z1 + (1 - (1 - sigma_min) t) z0``, this equals
``z1 - (1 - sigma_min) z0`` (no division, defined at t = 1 even for sigma_min = 0).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["conditional_path", "flow_matching_loss", "sigma_t", "target_field", "target_field_from_noise"]


def _expand(t: Tensor | float, like: Tensor) -> Tensor:
    """Broadcast a per-sample time ``t`` (B,) or scalar against ``like`` (B, ...)."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        return t
    return t.reshape(-1, *([1] * (like.ndim - 1)))


def sigma_t(t: Tensor | float, sigma_min: float) -> Tensor | float:
    """Standard deviation of the path at time t: ``1 - (1 - sigma_min) t``."""
    return 1.0 - (1.0 - sigma_min) * t


def conditional_path(z1: Tensor, z0: Tensor, t: Tensor | float, sigma_min: float) -> Tensor:
    """Sample of ``p_t(z | z1)`` given the noise ``z0``.

    Shape:
        z1, z0: (B, C, H, W); t: (B,) or scalar; returns (B, C, H, W).
    """
    tt = _expand(t, z1)
    return tt * z1 + (1.0 - (1.0 - sigma_min) * tt) * z0


def target_field(z: Tensor, z1: Tensor, t: Tensor | float, sigma_min: float) -> Tensor:
    """Conditional vector field ``u_t(z | z1)`` of eq. 5.6 at any point ``z``.

    Undefined at ``t = 1`` when ``sigma_min = 0`` (the path collapses onto ``z1``); use
    :func:`target_field_from_noise` for training targets.

    Shape:
        z, z1: (B, C, H, W); t: (B,) or scalar; returns (B, C, H, W).
    """
    tt = _expand(t, z1)
    return (z1 - (1.0 - sigma_min) * z) / (1.0 - (1.0 - sigma_min) * tt)


def target_field_from_noise(z0: Tensor, z1: Tensor, sigma_min: float) -> Tensor:
    """``u_t`` of eq. 5.6 evaluated on ``conditional_path(z1, z0, t)``:
    ``z1 - (1 - sigma_min) z0`` for every t.
    """
    return z1 - (1.0 - sigma_min) * z0


def flow_matching_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean squared error of eq. 5.8, averaged over every element.

    Shape:
        pred, target: (B, C, H, W); returns a scalar.
    """
    return torch.mean((pred.float() - target.float()) ** 2)
