"""Registry of the DILEMMA tasks by base SSL method (``method.variant``)."""

from __future__ import annotations

from dilemma_ssl.variants.dino import DINODilemmaTask
from dilemma_ssl.variants.mae import MAEDilemmaTask
from dilemma_ssl.variants.mocov3 import MoCoV3DilemmaTask
from dilemma_ssl.variants.simclr import SimCLRDilemmaTask

__all__ = ["TASKS", "DINODilemmaTask", "MAEDilemmaTask", "MoCoV3DilemmaTask", "SimCLRDilemmaTask"]

TASKS = {
    "mocov3": MoCoV3DilemmaTask,
    "simclr": SimCLRDilemmaTask,
    "dino": DINODilemmaTask,
    "mae": MAEDilemmaTask,
}
