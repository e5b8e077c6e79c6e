"""SCALE as a :class:`sparse_core.engine.Task`: set split, masking, predictor, MCM + SET losses (eq. 4.8)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from scale_video.component_config import LossConfig, PredictorConfig
from scale_video.data import FeatureBank
from scale_video.losses import mcm_loss, set_loss
from scale_video.masking import draw_clips
from scale_video.model import SCALEHeads, SCALEPredictor
from sparse_core.engine import Task
from sparse_core.models.key_bias import hold_key_bias

__all__ = ["LossConfig", "SCALETask"]


class SCALETask(Task):
    """The predictor and projection heads trained on a :class:`FeatureBank` by ``L_MCM + L_SET``.

    The bank is a plain attribute (not a buffer): it is moved to the parameters' device on first use, never
    broadcast by DDP and never written into checkpoints.

    Args:
        bank: training features; its rows are what the engine's ``{"index"}`` batches point to.
        model: predictor architecture.
        loss: pretext tasks.
    """

    def __init__(self, bank: FeatureBank, model: PredictorConfig | None = None,
                 loss: LossConfig | None = None) -> None:
        super().__init__()
        self.model_cfg, self.loss_cfg = model or PredictorConfig(), loss or LossConfig()
        if 2 * self.loss_cfg.set_size > bank.num_clips:
            raise ValueError(f"two sets of {self.loss_cfg.set_size} clips need {2 * self.loss_cfg.set_size} "
                             f"stored clips per sample, the bank has {bank.num_clips}")
        self.bank = bank
        self.predictor = SCALEPredictor(bank.dim, self.model_cfg)
        self.heads = SCALEHeads(bank.dim, self.model_cfg.hidden_dim, self.model_cfg.head_dim,
                                self.model_cfg.head_layers)

    def setup(self, total_steps: int) -> None:
        """Before the optimizer is built: hold the predictor's attention key biases
        (:func:`~sparse_core.models.key_bias.hold_key_bias`; their gradient is exactly zero, and Adam would turn
        its rounding noise into steps that differ between N processes and one)."""
        hold_key_bias(self)

    def find_unused_parameters(self, step: int) -> bool:
        """The heads of a disabled loss get no gradient."""
        return not (self.loss_cfg.mcm and self.loss_cfg.set)

    def losses(self, feats: Tensor, boxes: Tensor, sets: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """Eq. 4.6-4.8 for a batch of videos and their draws.

        Args:
            feats: each video's stored clip features.
            boxes: their normalised boxes.
            sets: clip indices of the two sets (:func:`scale_video.masking.draw_clips`).
            mask: True at the clips replaced by the MSK token.

        Returns:
            ``{"loss", "mcm_loss", "set_loss"}`` (only the enabled terms).

        Shape:
            feats: (b, S, D), boxes: (b, S, 6), sets, mask: (b, 2, K).
        """
        b, _, k = sets.shape
        flat = sets.reshape(b, 2 * k)  # (b, 2K)
        f = feats.gather(1, flat[..., None].expand(-1, -1, feats.shape[-1]))  # (b, 2K, D)
        bx = boxes.gather(1, flat[..., None].expand(-1, -1, boxes.shape[-1]))  # (b, 2K, 6)
        cls, clips = self.predictor(f.reshape(2 * b, k, -1), bx.reshape(2 * b, k, -1), mask.reshape(2 * b, k))
        cfg = self.loss_cfg
        out: dict[str, Tensor] = {}
        if cfg.mcm:
            pred = self.heads.mcm_pred(clips).reshape(b, 2 * k, -1)  # (b, 2K, d)
            target = self.heads.mcm_target(f)  # (b, 2K, d)
            out["mcm_loss"] = mcm_loss(pred, target, mask.reshape(b, 2 * k), cfg.temperature)
        if cfg.set:
            z = self.heads.set_proj(cls).reshape(b, 2, -1)  # (b, 2, d)
            out["set_loss"] = set_loss(z[:, 0], z[:, 1], cfg.temperature)
        out["loss"] = torch.stack(list(out.values())).sum()  # eq. 4.8: unweighted sum
        return out

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, Tensor]:
        """One step: gather the rows from the bank, draw the sets and masks for the step batch, compute eq. 4.8."""
        device = self.predictor.cls_token.device
        self.bank = self.bank.to(device)
        index = batch["index"]
        feats, boxes = self.bank.take(index)
        rows = self.rows(len(index), device)
        cfg = self.loss_cfg
        draw = draw_clips(rows.total, self.bank.num_clips, cfg.set_size, cfg.mask_ratio,
                          self.generator(step, "clips"))[rows.rows]
        return self.losses(feats, boxes, draw.sets.to(device), draw.mask.to(device))
