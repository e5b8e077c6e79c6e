"""Mixed precision of one training run: autocast and (fp16) a gradient scaler, owned by the run.

Accelerate keeps its mixed precision in one process-wide state that a later ``Accelerator`` may not change
(it raises), and only private calls reset it; yet a demo, a study or a test suite trains several runs of
different precisions in one process. So the :class:`~sparse_core.engine.trainer.Trainer` gives accelerate
``mixed_precision="no"`` (processes, devices, DDP, collectives stay accelerate's) and applies the run's
precision here with torch's public ``torch.autocast`` and ``torch.amp.GradScaler``: the same autocast dtype
and scaler accelerate would use. fp16 on a CPU runs in fp32, as accelerate does (it has no CPU fp16 autocast),
unless :attr:`RunPrecision.CPU_FP16` is set (a test's way to run the gradient-scaler path without a GPU).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch

__all__ = ["PRECISIONS", "RunPrecision"]

log = logging.getLogger("sparse_core.engine")

PRECISIONS = {"no": None, "bf16": torch.bfloat16, "fp16": torch.float16}
"""``train.precision`` -> autocast dtype (None: fp32)."""


class RunPrecision:
    """Autocast, backward and optimizer step of a run at ``precision`` on ``device``.

    Args:
        precision: ``"no"``, ``"bf16"`` or ``"fp16"`` (``train.precision``).
        device: the run's device (autocast's device type; fp16 needs a non-CPU device).

    Raises:
        ValueError: an unknown ``precision``.
    """

    CPU_FP16 = False
    """fp16 autocast and a gradient scaler on a CPU too (off: fp32 there, as accelerate; tests turn it on)."""

    def __init__(self, precision: str, device: torch.device) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"train.precision={precision!r} is not one of {', '.join(PRECISIONS)}")
        self.device_type = device.type
        self.dtype = PRECISIONS[precision]
        if self.dtype is torch.float16 and device.type == "cpu" and not self.CPU_FP16:
            log.warning("train.precision=fp16 has no autocast on a CPU: the run trains in fp32 (use bf16)")
            self.dtype = None
        self.scaler = torch.amp.GradScaler(device.type) if self.dtype is torch.float16 else None

    def autocast(self) -> AbstractContextManager[Any]:
        """Autocast to the run's dtype (a no-op context in fp32)."""
        return nullcontext() if self.dtype is None else torch.autocast(self.device_type, dtype=self.dtype)

    @staticmethod
    def outputs_to_fp32(out: dict[str, Any]) -> dict[str, Any]:
        """The step's outputs with bf16 / fp16 tensors cast to fp32 (the loss is reduced in full precision)."""
        return {k: v.float() if isinstance(v, torch.Tensor) and v.dtype in (torch.bfloat16, torch.float16) else v
                for k, v in out.items()}

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, through the gradient scaler in fp16."""
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        """Divide the gradients by the fp16 loss scale (before clipping); a no-op otherwise."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """The optimizer step; in fp16 skipped when a gradient overflowed, and the loss scale updated."""
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        """The gradient scaler's state (empty without one), for the checkpoint."""
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (ignored without a scaler or for an empty state)."""
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
