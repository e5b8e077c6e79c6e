"""sfclip: its place in the sparse-ssl suite and its rows of the GPU suite (none yet).

Registered as entry points of sparse-core's runners (``sparse_ssl.order`` -> :data:`POSITION`,
``sparse_ssl.gpu`` -> :data:`ROWS`; see :mod:`sparse_core.suite` and :mod:`sparse_core.gpu_suite`).
"""

from __future__ import annotations

from sparse_core.gpu_suite import Row

__all__ = ["POSITION", "ROWS"]

POSITION = 5
"""Place in the suite (the thesis order: core 0, dilemma 1, scale 2, river 3, vidrop 4, sfclip 5)."""

ROWS: tuple[Row, ...] = ()
"""The GPU-suite rows (none: sfclip's GPU headline is not prepared yet)."""
