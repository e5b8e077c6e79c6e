"""Where did the loss begin to blow up? A watch over the loss (and gradient norm) of every optimizer step.

A run whose loss turns NaN has usually been diverging for a while: its latest checkpoints already hold
exploding weights, and resuming from them with the same settings reaches the same NaN. :class:`DivergenceWatch`
keeps the recent values of each tracked quantity; a step whose value exceeds ``factor`` times the running
median of the previous ``window`` steps (after ``min_history`` steps) marks a blow-up, whose *onset* is the
first step of the rise that led to it (walking back while the value stayed above ``rise`` times that median).
The onset is forgotten when the quantity stays back under the threshold for ``patience`` steps (a transient
spike, or a legitimate new level once the window has caught up with it).

For a median ``m`` the threshold is ``m + (factor - 1) * |m|`` (``factor * m`` for positive losses), so
negative losses are judged by their distance from the median too.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field

__all__ = ["DivergenceWatch", "Onset"]


@dataclass(frozen=True)
class Onset:
    """The beginning of a blow-up of ``key``.

    Attributes:
        key: tracked quantity (``"loss"`` or ``"grad_norm"``).
        step: first step of the rise.
        flagged_step: step whose value first exceeded the threshold.
        value: the value at ``flagged_step``.
        median: running median it was compared with.
    """

    key: str
    step: int
    flagged_step: int
    value: float
    median: float


@dataclass
class _Series:
    window: int
    values: deque[tuple[int, float]] = field(default_factory=deque)
    onset: Onset | None = None
    calm: int = 0


class DivergenceWatch:
    """Tracks quantities step by step and reports the onset of the earliest ongoing blow-up.

    Args:
        factor: a value above ``factor`` x the running median marks a blow-up.
        rise: walking back from that step, the rise began after the last value at or under ``rise`` x median.
        window: number of recent steps in the running median.
        min_history: steps observed before any judgement.
        patience: consecutive steps back under the threshold that clear a blow-up.
    """

    def __init__(self, factor: float = 10.0, rise: float = 2.0, window: int = 100, min_history: int = 8,
                 patience: int = 20) -> None:
        self.factor, self.rise, self.window = factor, rise, window
        self.min_history, self.patience = min_history, patience
        self._series: dict[str, _Series] = {}

    @staticmethod
    def _limit(median: float, factor: float) -> float:
        return median + (factor - 1.0) * max(abs(median), 1e-12)

    def update(self, step: int, values: dict[str, float]) -> None:
        """Record the values of optimizer step ``step`` (non-finite values mark a blow-up at once)."""
        for key, value in values.items():
            s = self._series.setdefault(key, _Series(self.window))
            history = [v for _, v in s.values]
            if len(history) >= self.min_history:
                median = statistics.median(history)
                over = not math.isfinite(value) or value > self._limit(median, self.factor)
                if over and s.onset is None:
                    start = step
                    for past, v in reversed(s.values):
                        if v <= self._limit(median, self.rise):
                            break
                        start = past
                    s.onset = Onset(key, start, step, value, median)
                if over:
                    s.calm = 0
                elif s.onset is not None:
                    s.calm += 1
                    if s.calm >= self.patience:
                        s.onset, s.calm = None, 0
            if math.isfinite(value):
                s.values.append((step, value))
                if len(s.values) > s.window:
                    s.values.popleft()

    @property
    def onset(self) -> Onset | None:
        """The earliest onset among the tracked quantities' ongoing blow-ups (None: nothing is blowing up)."""
        found = [s.onset for s in self._series.values() if s.onset is not None]
        return min(found, key=lambda o: o.step) if found else None

    def state_dict(self) -> dict[str, object]:
        """Plain-container state for checkpoints (so a resumed run judges as an uninterrupted one)."""
        return {k: {"values": [list(v) for v in s.values], "calm": s.calm,
                    "onset": None if s.onset is None else [s.onset.key, s.onset.step, s.onset.flagged_step,
                                                           s.onset.value, s.onset.median]}
                for k, s in self._series.items()}

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore :meth:`state_dict`."""
        self._series = {}
        for key, raw in state.items():
            d = raw if isinstance(raw, dict) else {}
            s = _Series(self.window, deque((int(a), float(b)) for a, b in d.get("values", [])))
            s.calm = int(d.get("calm", 0))
            o = d.get("onset")
            if o:
                s.onset = Onset(str(o[0]), int(o[1]), int(o[2]), float(o[3]), float(o[4]))
            self._series[str(key)] = s
