"""Networks of river-vp: VQGAN autoencoder, patch discriminator, U-ViT vector field, refinement network."""

from river_vp.models.discriminator import PatchDiscriminator
from river_vp.models.uvit import VectorFieldConfig, VectorFieldRegressor
from river_vp.models.vqgan import VQGAN, VQGANConfig

__all__ = ["PatchDiscriminator", "VQGAN", "VQGANConfig", "VectorFieldConfig", "VectorFieldRegressor"]
