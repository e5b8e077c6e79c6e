"""Conditional optimal-transport probability paths of flow matching (thesis eq. 5.4-5.6, Lipman et al.).

The path from noise ``z0 ~ N(0, I)`` (t = 0) to a data sample ``z1`` (t = 1) is Gaussian,
``p_t(z | z1) = N(z | t z1, (1 - (1 - sigma_min) t)^2 I)``, and its conditional vector field is eq. 5.6::

    u_t(z | z1) = (z1 - (1 - sigma_min) z) / (1 - (1 - sigma_min) t)

For a point built from noise, ``z = t z1 + (1 - (1 - sigma_min) t) z0``, this equals
``z1 - (1 - sigma_min) z0`` (no division, defined at t = 1 even for sigma_min = 0).

**Data prediction** (``prediction: data``, a named deviation; the thesis' network outputs ``v_t``): the network
outputs an estimate ``z1_hat`` of the clean latent and the field is eq. 5.6 at it,
``v_t = (z1_hat - (1 - sigma_min) z) / max(1 - (1 - sigma_min) t, MIN_SIGMA_T)``, trained with eq. 5.8's loss on
``v_t`` ("x-prediction, v-loss" of Li & He 2025, "Back to Basics: Let Denoising Generative Models Denoise", who
clip ``1 - t`` at 0.05 the same way). For a nearly deterministic next frame the network then has to output one
latent that ignores the noise, as the next-latent regressor does, instead of representing the ``-z / (1 - t)``
term of the field, whose errors leave the samples spread around the conditional mean.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["MIN_SIGMA_T", "conditional_path", "field_from_data", "flow_matching_loss", "sigma_t", "target_field",
           "target_field_from_noise"]

MIN_SIGMA_T = 0.05
"""Lower clip of ``1 - (1 - sigma_min) t`` when a data prediction is turned into a field (Li & He 2025: 0.05)."""


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


def field_from_data(z: Tensor, z1_hat: Tensor, t: Tensor | float, sigma_min: float) -> Tensor:
    """The field of a data prediction: eq. 5.6 towards ``z1_hat``, its denominator clipped at ``MIN_SIGMA_T``.

    Equals :func:`target_field` wherever ``1 - (1 - sigma_min) t >= MIN_SIGMA_T``; an Euler step of size
    ``1 - t`` from such a ``t`` lands on ``z1_hat`` (for ``sigma_min = 0``).

    Shape:
        z, z1_hat: (B, C, H, W); t: (B,) or scalar; returns (B, C, H, W).
    """
    tt = _expand(t, z1_hat)
    return (z1_hat - (1.0 - sigma_min) * z) / torch.clamp(1.0 - (1.0 - sigma_min) * tt, min=MIN_SIGMA_T)


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
