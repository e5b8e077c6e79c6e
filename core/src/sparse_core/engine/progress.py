"""Progress of a long loop: a live bar on a terminal, a line every N steps with the ETA otherwise.

``mode`` (``train.progress`` and the ``progress`` option of encode / extract / precompute / eval loops):

* ``"auto"`` (default): a tqdm bar with rate and ETA when stderr is a terminal, else plain lines (a log file or
  CI shows ``desc: 120/400 step (30%), 3.2 step/s, ETA 1m27s, loss=0.41``) every ``every`` updates;
* ``True``: the tqdm bar whatever stderr is; ``False``: nothing.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["PROGRESS_MODES", "Progress", "check_progress", "format_eta", "resolve_progress"]

PROGRESS_MODES: tuple[object, ...] = ("auto", True, False)
"""Accepted values of a progress option."""


def check_progress(key: str, mode: object) -> None:
    """Refuse a progress option that is not ``"auto"``, True or False, naming ``key`` (a ConfigError)."""
    from sparse_core.validation import bad_value

    if not any(mode is m or (isinstance(m, str) and mode == m) for m in PROGRESS_MODES):
        raise bad_value(key, "'auto', true or false", mode)


def resolve_progress(mode: bool | str, stream: TextIO | None = None) -> str:
    """``"bar"``, ``"lines"`` or ``"off"`` for ``mode`` writing to ``stream`` (default stderr)."""
    if mode is False:
        return "off"
    if mode is True:
        return "bar"
    if mode != "auto":
        raise ValueError(f"progress must be one of {PROGRESS_MODES}, got {mode!r}")
    s = stream if stream is not None else sys.stderr
    isatty = getattr(s, "isatty", None)
    return "bar" if callable(isatty) and isatty() else "lines"


def format_eta(seconds: float) -> str:
    """``"1h02m"``, ``"3m27s"`` or ``"12s"`` (``"?"`` when unknown)."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Progress:
    """Count ``update()`` calls towards ``total`` and show them as :func:`resolve_progress` says.

    Args:
        total: number of updates expected (steps, videos, batches).
        initial: updates already done (a resumed run).
        mode: ``"auto"``, True or False (module docstring).
        desc: label of the bar / the lines.
        unit: what one update counts.
        every: lines mode: a line every this many updates (default: total / 20, at least 1) and at the end.
        stream: where lines go (default stderr).
        clock: time source (seconds), replaceable in tests.
    """

    def __init__(self, total: int, initial: int = 0, mode: bool | str = "auto", desc: str = "", unit: str = "step",
                 every: int | None = None, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.n, self.desc, self.unit = int(total), int(initial), desc, unit
        self.stream = stream if stream is not None else sys.stderr
        self.kind = resolve_progress(mode, self.stream)
        self.every = every or max(1, math.ceil(self.total / 20))
        self.clock, self._start, self._start_n = clock, clock(), self.n
        self._postfix: dict[str, Any] = {}
        self._bar: Any = None
        if self.kind == "bar":
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, initial=self.n, unit=unit, dynamic_ncols=True, desc=desc,
                             file=self.stream)

    def line(self) -> str:
        """The lines-mode text for the current count."""
        elapsed = self.clock() - self._start
        done = self.n - self._start_n
        rate = done / elapsed if elapsed > 0 else float("nan")
        eta = (self.total - self.n) / rate if rate > 0 else float("nan")
        pct = 100.0 * self.n / self.total if self.total else 100.0
        text = (f"{self.desc}: {self.n}/{self.total} {self.unit} ({pct:.0f}%), {rate:.3g} {self.unit}/s, "
                f"ETA {format_eta(eta)}")
        extra = ", ".join(f"{k}={v}" for k, v in self._postfix.items())
        return f"{text}, {extra}" if extra else text

    def update(self, n: int = 1, **postfix: Any) -> None:
        """Advance by ``n``; ``postfix`` (e.g. ``loss="0.41"``) is shown beside the count."""
        before, self.n = self.n, self.n + n
        self._postfix.update(postfix)
        if self._bar is not None:
            self._bar.update(n)
            if postfix:
                self._bar.set_postfix(self._postfix, refresh=False)
        elif self.kind == "lines" and (self.n // self.every > before // self.every or
                                       (self.n >= self.total > before)):
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        """Close the bar (lines mode: nothing left to print)."""
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        """Use as a context manager that closes the bar."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the bar."""
        self.close()
