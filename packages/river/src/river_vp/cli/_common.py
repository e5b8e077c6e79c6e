"""Small helpers shared by the CLIs."""

from __future__ import annotations

import logging

import torch

__all__ = ["resolve_device", "setup_logging"]


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when available else CPU; otherwise ``torch.device(name)``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def setup_logging() -> None:
    """INFO logging to stderr for the CLIs (idempotent)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
