"""Training steps of river-vp for the sparse_core engine."""

from river_vp.tasks.autoencoder import AELossConfig, AutoencoderTask
from river_vp.tasks.flow import RiverTask

__all__ = ["AELossConfig", "AutoencoderTask", "RiverTask"]
