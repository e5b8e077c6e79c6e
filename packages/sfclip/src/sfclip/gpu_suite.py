"""SF-CLIP's suite place (``sparse_ssl.order`` -> :data:`POSITION`, the thesis order of
:mod:`sparse_core.suite`) and GPU-suite rows (``sparse_ssl.gpu`` -> :data:`ROWS`, :mod:`sparse_core.gpu_suite`).
"""

from __future__ import annotations

from sparse_core.gpu_suite import Row

__all__ = ["POSITION", "ROWS"]

POSITION = 5  # core 0, dilemma 1, scale 2, river 3, vidrop 4, sfclip 5

ROWS: tuple[Row, ...] = ()
"""The GPU-suite rows (none: sfclip's GPU headline is not prepared yet)."""
