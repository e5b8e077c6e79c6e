"""VQGAN training step: L1 + perceptual reconstruction, codebook loss, and a hinge patch-GAN with an adaptive
generator weight that starts after ``disc_start`` steps (Esser et al., as used by RIVER sec. 5.2.1)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.func import functional_call

from river_vp.component_config import PIXEL_LOSSES, AELossConfig
from river_vp.losses import PerceptualLoss, adaptive_weight, hinge_d_loss
from river_vp.models.discriminator import PatchDiscriminator
from river_vp.models.vqgan import VQGAN, VQGANConfig
from sparse_core.distributed import gather_with_grad
from sparse_core.engine import ParamGroup, Task

__all__ = ["PIXEL_LOSSES", "AELossConfig", "AutoencoderTask", "pixel_loss"]



def pixel_loss(x: Tensor, rec: Tensor, kind: str) -> Tensor:
    """Pixel reconstruction term: mean absolute error (``"l1"``, taming-transformers), mean squared error
    (``"l2"``) or their sum (``"l1+l2"``).

    Shape:
        x, rec: (B, C, H, W) images in [-1, 1]; returns a scalar.
    """
    diff = x - rec
    if kind == "l1":
        return diff.abs().mean()
    if kind == "l2":
        return diff.pow(2).mean()
    if kind == "l1+l2":
        return diff.abs().mean() + diff.pow(2).mean()
    raise ValueError(f"pixel loss must be one of {PIXEL_LOSSES}, got {kind!r}")


class AutoencoderTask(Task):
    """Owns the VQGAN, the patch discriminator and the (frozen) perceptual network.

    Generator and discriminator share the engine's single optimizer: the generator's adversarial term is
    evaluated with detached discriminator weights, and the discriminator's term on detached reconstructions,
    so one backward pass gives each network only its own gradient. The discriminator's lr, weight decay and
    clipping can differ from the generator's (``disc_lr_scale``, ``disc_weight_decay``, ``disc_clip_grad``
    through :meth:`param_groups`), and DDP looks for unused parameters only before ``quantize_start`` and
    ``disc_start``.
    """

    def __init__(self, model: VQGANConfig, loss: AELossConfig, max_steps: int = 0) -> None:
        """Build the networks.

        Args:
            model: the VQGAN's architecture.
            loss: the loss terms.
            max_steps: the run's optimizer steps (sets the quantizer warm-up's end; 0: no warm-up).
        """
        super().__init__()
        self.loss_cfg = loss
        self.quantize_start = int(loss.quantize_warmup * max_steps)
        """First step whose latents are quantized (``loss.quantize_warmup`` x ``max_steps``)."""
        self.vqgan = VQGAN(model)
        self.discriminator = (
            PatchDiscriminator(model.in_channels, loss.disc_ndf, loss.disc_layers)
            if loss.disc_weight > 0
            else None
        )
        self.perceptual = PerceptualLoss(loss.perceptual_path)

    def param_groups(self) -> list[ParamGroup] | None:
        """The discriminator's own lr scale / weight decay / clip norm; None when they equal the generator's."""
        cfg = self.loss_cfg
        if self.discriminator is None or (cfg.disc_lr_scale, cfg.disc_weight_decay, cfg.disc_clip_grad) == (
                1.0, None, None):
            return None
        return [ParamGroup("discriminator", cfg.disc_lr_scale, cfg.disc_weight_decay, cfg.disc_clip_grad)]

    def find_unused_parameters(self, step: int) -> bool:
        """The codebook gets no gradient before ``quantize_start`` (the plain-autoencoder warm-up), the
        discriminator none before ``disc_start``."""
        return step < self.quantize_start or (self.discriminator is not None and step < self.loss_cfg.disc_start)

    def _init_codebook(self, x: Tensor, step: int) -> None:
        """Codebook from the encoder's latents of the step's batch on every process (gathered in rank order,
        the global rows' order) with draws from the step's generator: what one process holding that batch
        sets. Once a step, on its first micro-batch."""
        with torch.no_grad():
            self.vqgan.quantize.init_from_data(gather_with_grad(self.vqgan.encode(x)),
                                               self.generator(step, "codebook_init"))

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, Tensor]:
        """Losses of a batch ``{"image": (B, 3, H, W) in [-1, 1]}``."""
        cfg = self.loss_cfg
        x = batch["image"]
        if step == self.quantize_start and cfg.init_codebook_from_data and self.training and self.micro == 0:
            self._init_codebook(x, step)
        if step < self.quantize_start:
            rec, qloss = self.vqgan.decoder(self.vqgan.post_quant_conv(self.vqgan.encode(x))), x.new_zeros(())
        else:
            rec, qloss = self.vqgan(x)
        rec_loss = pixel_loss(x, rec, cfg.pixel)
        perc = self.perceptual(x, rec)
        nll = rec_loss + cfg.perceptual_weight * perc
        loss = nll + cfg.codebook_weight * qloss
        out = {"l1" if cfg.pixel == "l1" else "pixel": rec_loss.detach(), "codebook": qloss.detach()}
        if self.perceptual.enabled:
            out["perceptual"] = perc.detach()
        if self.discriminator is not None and step >= cfg.disc_start:
            frozen = {k: v.detach() for k, v in self.discriminator.named_parameters()}
            g_loss = -functional_call(self.discriminator, frozen, (rec,)).mean()
            if cfg.adaptive_weight and torch.is_grad_enabled():
                weight = adaptive_weight(nll, g_loss, self.vqgan.last_layer()) * cfg.disc_weight
            else:
                weight = torch.tensor(cfg.disc_weight, device=x.device)
            d_loss = hinge_d_loss(self.discriminator(x.detach()), self.discriminator(rec.detach()))
            loss = loss + weight * g_loss + d_loss
            out.update({"g_loss": g_loss.detach(), "d_loss": d_loss.detach(), "d_weight": weight.detach()})
        out["loss"] = loss
        return out
