"""A plain next-latent regressor of RIVER's network: the reference line for the flow (issue 25).

Same network, same conditions and same examples as :class:`~river_vp.tasks.flow.RiverTask`, but one
deterministic prediction: ``z_hat = f(0, t=0, z^{tau-1}, z^c, tau - c)`` trained with the squared error to the
true next latent. It says how much of the motion the architecture can learn at a budget when nothing has to be
integrated; a flow that predicts worse than it one step ahead is limited by its objective, not its network.

At inference the regressor is wrapped as a vector field (:class:`RegressorField`) whose flow is the straight
path from the start noise to ``z_hat``: Euler with any number of steps lands on ``z_hat`` exactly (one step
suffices), so prediction, evaluation and the CLIs use it unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from river_vp.component_config import OBJECTIVES
from river_vp.flow.matching import target_field
from river_vp.models.uvit import VectorFieldConfig, VectorFieldRegressor
from sparse_core.engine import Task

__all__ = ["OBJECTIVES", "NextLatentTask", "RegressorField", "regress_next"]



def regress_next(model: nn.Module, conds: Tensor, dists: Tensor) -> Tensor:
    """The regressor's next-latent estimate: the network at ``z = 0``, ``t = 0``.

    Shape:
        conds: (B, n, C, H, W); dists: (B, n); returns (B, C, H, W).
    """
    b = conds.shape[0]
    z = torch.zeros_like(conds[:, 0])
    return model(z, torch.zeros(b, device=conds.device, dtype=conds.dtype), conds, dists)


class NextLatentTask(Task):
    """Owns the network; one step regresses the next latent from its conditions (squared error)."""

    def __init__(self, model: VectorFieldConfig) -> None:
        super().__init__()
        self.model = VectorFieldRegressor(model)

    def exported(self) -> VectorFieldRegressor:
        """The network to save."""
        return self.model

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, Tensor]:
        """Loss of ``{"target": (B, C, h, w), "conds": (B, n, C, h, w), "dists": (B, n)}``: mean squared error."""
        pred = regress_next(self.model, batch["conds"], batch["dists"])
        return {"loss": torch.mean((pred.float() - batch["target"].float()) ** 2)}


class RegressorField(nn.Module):
    """A next-latent regressor as a vector field: ``v_t(z) = (z_hat - z) / (1 - t)`` (eq. 5.6 with
    ``sigma_min = 0`` towards ``z_hat``), whose integral from any start lands on ``z_hat``.

    Attributes:
        net: the regressor (a :class:`~river_vp.models.uvit.VectorFieldRegressor`; ``cfg`` is its config).
    """

    def __init__(self, net: VectorFieldRegressor) -> None:
        super().__init__()
        self.net = net
        self.cfg = net.cfg

    def forward(self, z: Tensor, t: Tensor, conds: Tensor, dists: Tensor) -> Tensor:
        """Shape: as :meth:`VectorFieldRegressor.forward`: z (B, C, H, W), t (B,) in [0, 1); returns (B, C, H, W)."""
        return target_field(z, regress_next(self.net, conds, dists), t, 0.0)
