"""Losses of the VQGAN autoencoder and the refinement network."""

from river_vp.losses.gan import adaptive_weight, hinge_d_loss
from river_vp.losses.perceptual import PerceptualLoss

__all__ = ["PerceptualLoss", "adaptive_weight", "hinge_d_loss"]
