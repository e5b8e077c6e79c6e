"""Pure schedule functions of the step: learning rate, weight decay, EMA momentum, temperatures.

Being pure functions of the step they need no state in checkpoints: a resumed run gets the same values.
"""

from __future__ import annotations

import math

__all__ = ["cosine_schedule", "linear_warmup"]


def linear_warmup(step: int, warmup_steps: int, start: float, end: float) -> float:
    """Linear ramp from ``start`` (step 0) to ``end`` (step ``warmup_steps``), then ``end``."""
    if warmup_steps <= 0 or step >= warmup_steps:
        return end
    return start + (end - start) * step / warmup_steps


def cosine_schedule(step: int, total_steps: int, start: float, end: float, warmup_steps: int = 0,
                    warmup_start: float = 0.0) -> float:
    """Linear warmup to ``start`` over ``warmup_steps``, then half-cosine from ``start`` to ``end``.

    Matches DINO's ``cosine_scheduler`` evaluated per iteration: value at the first post-warmup step is
    ``start`` and it reaches ``end`` at ``total_steps - 1``.
    """
    if step < warmup_steps:
        return linear_warmup(step, warmup_steps, warmup_start, start)
    span = max(1, total_steps - 1 - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * progress))
