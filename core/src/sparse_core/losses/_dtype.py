"""Precision helper shared by the losses."""

from __future__ import annotations

import torch
from torch import Tensor


def upcast(x: Tensor) -> Tensor:
    """Return ``x`` in at least float32 (fp16/bf16 are upcast; float64 is kept)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))
