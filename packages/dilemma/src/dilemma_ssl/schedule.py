"""Random sparsity schedule: per step, one dropping ratio and a matching batch size (thesis sec. 3.2.2).

Each optimizer step draws a sparsity ratio from a set (default 0 %, 40 %, 55 %, 65 %) and scales the base
batch by the matching factor (default 1x, 2x, 3x, 4x) so that accelerator memory stays about constant. The
draw is a pure function of ``(seed, step)`` through the engine's
:func:`~sparse_core.engine.randomness.step_generator` (stream ``"sparsity"``): the engine's ``batch_size_fn``
and the task's training step agree on it without sharing state, and a resumed run repeats it exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from sparse_core import masking
from sparse_core.engine.randomness import step_generator

__all__ = ["SparsitySchedule"]

STREAM = "sparsity"
"""Stream of the per-step ratio draw (one draw per optimizer step, shared by every micro-batch and rank)."""


@dataclass(frozen=True)
class SparsitySchedule:
    """Per-step sparsity ratio and global batch size.

    Args:
        base_batch_size: global batch size of a dense (multiplier 1) step.
        ratios: dropping ratios to draw from (uniformly).
        multipliers: batch-size factor of each ratio.
        seed: run seed.
        random: draw per step; False always uses ``ratios[0]`` / ``multipliers[0]``.
    """

    base_batch_size: int
    ratios: tuple[float, ...] = (0.0, 0.4, 0.55, 0.65)
    multipliers: tuple[int, ...] = (1, 2, 3, 4)
    seed: int = 0
    random: bool = True

    def __post_init__(self) -> None:
        if len(self.ratios) != len(self.multipliers) or not self.ratios:
            raise ValueError("ratios and multipliers must be non-empty and of equal length")

    @classmethod
    def constant(
        cls, base_batch_size: int, ratio: float, multiplier: int = 1, seed: int = 0
    ) -> SparsitySchedule:
        """A schedule that uses one ratio and batch size on every step."""
        return cls(base_batch_size, (ratio,), (multiplier,), seed, random=False)

    @classmethod
    def from_lists(
        cls,
        base_batch_size: int,
        ratios: Sequence[float],
        multipliers: Sequence[int],
        seed: int,
        random: bool = True,
    ) -> SparsitySchedule:
        """Build from config lists."""
        return cls(
            base_batch_size, tuple(float(r) for r in ratios), tuple(int(m) for m in multipliers), seed, random
        )

    def choice(self, step: int) -> int:
        """Index into ``ratios`` used at ``step``."""
        if not self.random or len(self.ratios) == 1:
            return 0
        g = step_generator(self.seed, step, stream=STREAM)
        return int(torch.randint(len(self.ratios), (1,), generator=g).item())

    def ratio(self, step: int) -> float:
        """Dropping ratio of the student's input at ``step``."""
        return self.ratios[self.choice(step)]

    def batch_size(self, step: int) -> int:
        """Global batch size at ``step`` (the engine's ``batch_size_fn``)."""
        return self.base_batch_size * self.multipliers[self.choice(step)]

    def __call__(self, step: int) -> int:
        """Alias of :meth:`batch_size` so the schedule itself can be passed as ``batch_size_fn``."""
        return self.batch_size(step)

    def mean_batch_size(self) -> float:
        """Expected batch size per step (2.5 x base for the thesis' default schedule)."""
        if not self.random:
            return float(self.base_batch_size * self.multipliers[0])
        return self.base_batch_size * sum(self.multipliers) / len(self.multipliers)

    @staticmethod
    def num_kept(num_tokens: int, ratio: float) -> int:
        """Tokens kept when dropping ``ratio`` of ``num_tokens`` (sparse-core's rounding, >= 1)."""
        return masking.num_keep(num_tokens, 1.0 - ratio)
