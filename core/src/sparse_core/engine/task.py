"""The contract between a package's method and the engine's loop."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sparse_core.engine.optim import ParamGroup
from sparse_core.engine.randomness import GlobalRows, global_rows, step_generator

__all__ = ["Task"]


class Task(nn.Module):
    """A trainable method: the modules it owns plus one training step.

    Subclasses implement :meth:`training_step`; everything stateful (students, teachers, heads, loss buffers
    such as DINO centers) must be a submodule or buffer so that it lands in checkpoints.

    Per-step random choices come from :meth:`generator` (keyed by the run seed, set by the Trainer from
    ``train.seed``, the optimizer step and a stream name), drawn for the step's whole batch, of which this
    micro-batch keeps :meth:`rows` (the Trainer passes the micro-batch index to :meth:`forward` and sets
    ``accum`` from ``train.grad_accum``). See :mod:`sparse_core.engine.randomness`.

    Hooks the Trainer calls besides the step: :meth:`setup` (once, with the run length, before the optimizer
    is built), :meth:`param_groups` (groups with their own lr / weight decay / clipping),
    :meth:`find_unused_parameters` (steps on which some parameters get no gradient) and :meth:`on_after_step`.
    """

    seed: int = 0
    micro: int = 0
    accum: int = 1

    def generator(self, step: int, stream: str | int = 0) -> torch.Generator:
        """CPU generator of ``stream`` for the whole batch of optimizer step ``step``."""
        return step_generator(self.seed, step, 0, stream)

    def rows(self, local_batch: int, device: torch.device | None = None) -> GlobalRows:
        """Rows of the current micro-batch (``local_batch`` samples on this process) in the step batch."""
        return global_rows(local_batch, self.micro, self.accum, device)

    def training_step(self, batch: dict[str, Any], step: int) -> dict[str, torch.Tensor]:
        """Compute the loss of one (micro-)batch.

        Args:
            batch: collated batch on the right device (see ``sparse_core.data.collate``).
            step: index of the optimizer step (0-based); per-step random choices should derive from it.

        Returns:
            dict with a scalar ``"loss"`` to minimise; other scalar entries are logged.
        """
        raise NotImplementedError

    def forward(  # type: ignore[override]
        self, batch: dict[str, Any], step: int, micro: int = 0
    ) -> dict[str, torch.Tensor]:
        """The engine calls the (possibly DDP-wrapped) module, so DDP's hooks run; defaults to the step.

        Args:
            batch: collated micro-batch.
            step: optimizer step.
            micro: micro-batch index within the step (``0 .. grad_accum - 1``), stored as ``self.micro``.
        """
        self.micro = micro
        return self.training_step(batch, step)

    def setup(self, total_steps: int) -> None:
        """Prepare what needs the run length (schedules); called once by the Trainer before training.

        It runs before a checkpoint is restored, so restored state wins.

        Args:
            total_steps: optimizer steps of the whole run (``train.max_steps`` or epochs x steps per epoch).
        """

    def param_groups(self) -> list[ParamGroup] | None:
        """Groups of parameters with their own lr scale, weight decay and clip norm.

        Read once when the optimizer is built; see :class:`~sparse_core.engine.optim.ParamGroup`.

        Returns:
            the groups, or ``None`` (the default) for one setting for all parameters.
        """
        return None

    def find_unused_parameters(self, step: int) -> bool:
        """Whether some trainable parameters may get no gradient at optimizer step ``step``.

        DDP then looks for them after each backward (costly, so only on those steps): a GAN whose
        discriminator only joins after ``disc_start`` says ``step < disc_start``. Must be the same on every
        process (a function of the step). Default False.
        """
        return False

    def on_after_step(self, step: int, total_steps: int) -> None:
        """Called after each optimizer step (EMA teacher updates, etc.)."""

    def no_weight_decay(self) -> set[str]:
        """Names of parameters (as in ``named_parameters()``) excluded from weight decay besides 1-D ones."""
        names: set[str] = set()
        for prefix, module in self.named_modules():
            if module is self or not hasattr(module, "no_weight_decay"):
                continue
            for n in module.no_weight_decay():
                names.add(f"{prefix}.{n}" if prefix else n)
        return names
