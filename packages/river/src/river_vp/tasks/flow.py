"""RIVER's flow-matching training step (Algorithm 1, eq. 5.6-5.8; condition dropout of sec. 5.3.3)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from river_vp.component_config import PREDICTIONS
from river_vp.flow.matching import conditional_path, field_from_data, flow_matching_loss, target_field_from_noise
from river_vp.models.uvit import VectorFieldConfig, VectorFieldRegressor
from sparse_core.ema import EMATeacher
from sparse_core.engine import Task

__all__ = ["DataPredictionField", "RiverTask"]


class DataPredictionField(nn.Module):
    """A network that predicts the clean latent, as the vector field of eq. 5.6 towards its prediction
    (``prediction: data``; :func:`~river_vp.flow.matching.field_from_data`).

    Attributes:
        net: the network (a :class:`~river_vp.models.uvit.VectorFieldRegressor`; ``cfg`` is its config).
    """

    def __init__(self, net: VectorFieldRegressor, sigma_min: float) -> None:
        super().__init__()
        self.net, self.sigma_min = net, sigma_min
        self.cfg = net.cfg

    def forward(self, z: Tensor, t: Tensor, conds: Tensor, dists: Tensor) -> Tensor:
        """Shape: as :meth:`VectorFieldRegressor.forward`: z (B, C, H, W), t (B,) in [0, 1]; returns (B, C, H, W)."""
        return field_from_data(z, self.net(z, t, conds, dists), t, self.sigma_min)


class RiverTask(Task):
    """Owns the vector-field regressor; one step regresses ``u_t(z | z^tau)`` from ``(z_t, t, conditions)``.

    Args:
        model: architecture of the regressor.
        sigma_min: sigma_min of the probability path.
        cond_noise_prob: probability of replacing a sample's condition frames by noise (distance 0), so the
            same model also generates a first frame unconditionally (0.1 in the thesis's generation runs).
        ema_decay: keep an EMA copy of the regressor (``ema``, exported instead of ``model``) with this decay,
            warmed up as ``min(ema_decay, (1 + step) / (10 + step))``; 0 keeps none.
        prediction: 'velocity' (the network outputs ``v_t``: the thesis form) or 'data' (it outputs ``z1`` and
            eq. 5.8's loss is taken on the field :class:`DataPredictionField` makes of it).
    """

    def __init__(
        self, model: VectorFieldConfig, sigma_min: float = 1e-7, cond_noise_prob: float = 0.0,
        ema_decay: float = 0.0, prediction: str = "velocity",
    ) -> None:
        super().__init__()
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
        self.model = VectorFieldRegressor(model)
        self.sigma_min, self.cond_noise_prob, self.ema_decay = sigma_min, cond_noise_prob, ema_decay
        self.prediction = prediction
        self.ema = EMATeacher(self.model) if ema_decay > 0 else None

    def exported(self) -> VectorFieldRegressor:
        """The regressor to save and sample from: the EMA copy when there is one, else the trained one."""
        return self.ema.module if self.ema is not None else self.model  # type: ignore[return-value]

    def on_after_step(self, step: int, total_steps: int) -> None:
        """EMA update after each optimizer step (no-op without ``ema_decay``)."""
        if self.ema is not None:
            self.ema.update(self.model, min(self.ema_decay, (1 + step) / (10 + step)))

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, Tensor]:
        """Loss of ``{"target": (B, C, h, w), "conds": (B, n, C, h, w), "dists": (B, n)}``.

        Random draws (t, noise, condition dropout) are made for the step's whole global batch from the engine's
        generator (stream ``"flow"``) and sliced to this process' rows, so 2 processes draw what 1 process holding
        the whole batch draws (and a run resumed on another number of processes continues the same stream).
        """
        z1, conds, dists = batch["target"], batch["conds"], batch["dists"]
        b = z1.shape[0]
        rows = self.rows(b)
        g = self.generator(step, "flow")
        t = torch.rand(rows.total, generator=g)[rows.rows].to(z1.device)
        z0 = torch.randn((rows.total, *z1.shape[1:]), generator=g)[rows.rows].to(z1.device, z1.dtype)
        zt = conditional_path(z1, z0, t, self.sigma_min)
        target = target_field_from_noise(z0, z1, self.sigma_min)
        if self.cond_noise_prob > 0:
            drop = (torch.rand(rows.total, generator=g) < self.cond_noise_prob)[rows.rows].to(z1.device)
            noise = torch.randn((rows.total, *conds.shape[1:]), generator=g)[rows.rows].to(conds.device, conds.dtype)
            conds = torch.where(drop[:, None, None, None, None], noise, conds)
            dists = torch.where(drop[:, None], torch.zeros_like(dists), dists)
        pred = self.model(zt, t, conds, dists)
        if self.prediction == "data":
            pred = field_from_data(zt, pred, t, self.sigma_min)
        return {"loss": flow_matching_loss(pred, target)}
