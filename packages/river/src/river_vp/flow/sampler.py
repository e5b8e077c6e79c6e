"""Sampling the next latent frame by integrating the learned flow
(thesis eq. 5.9-5.12, warm start sec. 5.2.3).

At every function evaluation (NFE) a fresh context frame is drawn (eq. 5.10), so one frame's integration sees
many different past frames while each evaluation costs only two conditions: one index shared by the batch in
the thesis form, one per sample in the official form (``ConditionSpec.form``, the public RIVER code's
``generate_frames``). Euler is implemented directly
(``N`` steps of size ``1/N``); ``rk4``, ``midpoint``, ``dopri5`` and the other torchdiffeq solvers go through
``torchdiffeq.odeint``. Warm start with strength ``s`` starts at ``z'_s ~ p_s(z | z^{T-1})`` and integrates
``[s, 1]`` with the same step size, i.e. ``ceil((1 - s) N)`` steps. ``temperature`` scales the start noise (the
warm start's too); 1 is eq. 5.11.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from river_vp.component_config import SamplerConfig
from river_vp.flow.conditioning import (
    OFFICIAL_FORM,
    ConditionSpec,
    sample_context_batch,
    sample_context_indices,
)

__all__ = ["FieldFn", "SamplerConfig", "integrate", "sample_next_frame", "warm_start_point"]

FieldFn = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
"""``field(z (B,C,H,W), t (B,), conds (B,n,C,H,W), dists (B,n)) -> (B,C,H,W)``, e.g. a VectorFieldRegressor.
"""

FIXED_GRID = ("euler", "midpoint", "rk4", "explicit_adams", "implicit_adams", "heun3")


def warm_start_point(previous: Tensor, s: float, sigma_min: float, noise: Tensor) -> Tensor:
    """``z'_s = s z^{T-1} + (1 - (1 - sigma_min) s) eps``; equals the noise for ``s = 0``."""
    return s * previous + (1.0 - (1.0 - sigma_min) * s) * noise


def integrate(
    velocity: Callable[[Tensor, Tensor], Tensor], z: Tensor, t0: float, cfg: SamplerConfig
) -> Tensor:
    """Integrate ``dz/dt = velocity(t, z)`` from ``t0`` to 1.

    Shape:
        z: (B, C, H, W) state at t0; velocity(t scalar tensor, z) -> (B, C, H, W); returns z at t = 1.
    """
    n = max(1, math.ceil((1.0 - t0) * cfg.steps - 1e-9))
    if cfg.method == "euler":
        dt = (1.0 - t0) / n
        for i in range(n):
            t = torch.tensor(t0 + i * dt, device=z.device, dtype=z.dtype)
            z = z + dt * velocity(t, z)
        return z
    from torchdiffeq import odeint

    times = torch.tensor([t0, 1.0], device=z.device, dtype=z.dtype)
    options = {"step_size": (1.0 - t0) / n} if cfg.method in FIXED_GRID else None
    return odeint(velocity, z, times, method=cfg.method, rtol=cfg.rtol, atol=cfg.atol, options=options)[-1]


@torch.no_grad()
def sample_next_frame(
    field: FieldFn,
    frames: Tensor,
    tau: int,
    spec: ConditionSpec,
    cfg: SamplerConfig,
    generator: torch.Generator | None = None,
    future_index: int | None = None,
    unconditional: bool = False,
) -> Tensor:
    """Generate latent frame ``tau`` from the known frames.

    Args:
        field: the vector field (see :data:`FieldFn`).
        frames: (B, M, C, H, W) latents; frames ``0..tau-1`` (and
        ``future_index`` in 'interp') must be filled.
        tau: index of the frame to generate.
        spec: conditioning mode, context window (enforced at every NFE) and form. Thesis form: one context
            index is drawn per NFE and shared by the batch (rows are independent through their noise);
            official form: every sample draws its own index at every NFE (:func:`sample_context_batch`).
        cfg: solver, steps and warm start.
        generator: torch generator of the initial noise and of the context draws (CPU generator; the noise
            is drawn first, then the contexts of each NFE in order).
        future_index: 'interp' only: the goal frame's index.
        unconditional: generate without conditions (noise conditions, distance 0; video generation's frame 0).

    Returns:
        (B, C, H, W) the latent estimate ``z_1^tau``.
    """
    b = frames.shape[0]
    shape = frames.shape[2:]
    noise = cfg.temperature * torch.randn((b, *shape), generator=generator).to(frames.device, frames.dtype)
    n_cond = 1 if spec.mode == "no_ref" else 2
    s = cfg.warm_start if (tau >= 1 and not unconditional) else 0.0
    z = warm_start_point(frames[:, tau - 1], s, cfg.sigma_min, noise) if s > 0 else noise

    def velocity(t: Tensor, z_t: Tensor) -> Tensor:
        if unconditional:
            conds = torch.randn((b, n_cond, *shape), generator=generator).to(z_t.device, z_t.dtype)
            dists = torch.zeros(b, n_cond, dtype=torch.long, device=z_t.device)
        elif spec.form == OFFICIAL_FORM:
            idx_b, dist_b = sample_context_batch(tau, spec, b, generator)  # (B, n_cond) each
            conds = frames[torch.arange(b)[:, None], idx_b.to(frames.device)]  # (B, n_cond, C, H, W)
            dists = dist_b.to(z_t.device)
        else:
            idx, dist = sample_context_indices(
                tau, spec, generator, num_frames=frames.shape[1], future_index=future_index
            )
            conds = frames[:, idx]
            dists = torch.tensor(dist, device=z_t.device).expand(b, n_cond)
        return field(z_t, t.expand(b), conds, dists)

    return integrate(velocity, z, s, cfg)
