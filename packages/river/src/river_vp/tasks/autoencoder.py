"""VQGAN training step: L1 + perceptual reconstruction, codebook loss, and a hinge patch-GAN with an adaptive
generator weight that starts after ``disc_start`` steps (Esser et al., as used by RIVER sec. 5.2.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.func import functional_call

from river_vp.losses import PerceptualLoss, adaptive_weight, hinge_d_loss
from river_vp.models.discriminator import PatchDiscriminator
from river_vp.models.vqgan import VQGAN, VQGANConfig
from sparse_core.distributed import gather_with_grad
from sparse_core.engine import ParamGroup, Task
from sparse_core.validation import check_choice, check_float, check_int

__all__ = ["PIXEL_LOSSES", "AELossConfig", "AutoencoderTask", "pixel_loss"]

PIXEL_LOSSES = ("l1", "l2", "l1+l2")


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


@dataclass
class AELossConfig:
    """Loss terms of the autoencoder."""

    pixel: str = "l1"
    """Pixel reconstruction term: 'l1' (taming-transformers, the thesis's VQGAN), 'l2' (mean squared error,
    what PSNR measures; the tiny CPU config's) or 'l1+l2'."""
    codebook_weight: float = 1.0
    """Weight (>= 0) of the quantizer's codebook + commitment loss (taming-transformers: 1)."""
    perceptual_path: str | None = None
    """TorchScript perceptual network (e.g. exported LPIPS) on a local path; None disables the term."""
    perceptual_weight: float = 1.0
    """Weight of the perceptual term when a network is given, >= 0."""
    disc_weight: float = 0.8
    """Weight (>= 0) of the adversarial generator term; 0 disables the discriminator
    (taming-transformers: 0.8)."""
    disc_start: int = 10000
    """Optimizer step (>= 0) at which the adversarial terms switch on."""
    disc_ndf: int = 64
    """Width of the first discriminator layer (>= 1; pix2pix PatchGAN: 64)."""
    disc_layers: int = 3
    """Stride-2 layers of the patch discriminator, >= 1 (PatchGAN: 3)."""
    disc_lr_scale: float = 1.0
    """Discriminator lr as a multiple (> 0) of the scheduled optim.lr (1.0: the generator's lr)."""
    disc_weight_decay: float | None = None
    """Constant weight decay (>= 0) of the discriminator; None: the generator's optim.weight_decay
    schedule."""
    disc_clip_grad: float | None = None
    """Clip the discriminator's gradient norm (> 0) on its own (None: together with the generator by
    train.clip_grad)."""
    init_codebook_from_data: bool = True
    """At step ``quantize_start``, set the codebook to encoder outputs of that batch (off when fine-tuning)."""
    quantize_warmup: float = 0.0
    """Fraction in [0, 1) of ``train.max_steps`` trained as a plain autoencoder (straight latents, no
    codebook loss) before latents are quantized; the codebook is then initialised from the trained encoder's
    outputs. The tiny CPU config's quantizer warm-up (0: quantize from the start, as taming; runs counted in
    epochs, without train.max_steps, have no warm-up)."""
    adaptive_weight: bool = True
    """Scale the generator term by ||grad rec|| / ||grad gan|| at the decoder's last layer."""

    def __post_init__(self) -> None:
        """Refuse negative weights and out-of-range discriminator settings, naming the ``loss.*`` key.

        Raises:
            ConfigError: the first bad field.
        """
        check_choice("loss.pixel", self.pixel, PIXEL_LOSSES)
        for name in ("codebook_weight", "perceptual_weight", "disc_weight"):
            check_float(f"loss.{name}", getattr(self, name), 0.0, strict=False)
        check_int("loss.disc_start", self.disc_start, 0)
        check_float("loss.quantize_warmup", self.quantize_warmup, 0.0, strict=False, high=1.0, high_strict=True)
        check_int("loss.disc_ndf", self.disc_ndf, 1)
        check_int("loss.disc_layers", self.disc_layers, 1)
        check_float("loss.disc_lr_scale", self.disc_lr_scale, 0.0, strict=True)
        check_float("loss.disc_weight_decay", self.disc_weight_decay, 0.0, strict=False, optional=True)
        check_float("loss.disc_clip_grad", self.disc_clip_grad, 0.0, strict=True, optional=True)


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
