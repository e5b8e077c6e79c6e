"""What a caption is, and the per-step choice among several captions of one image.

A training sample's ``"caption"`` is either one string or a list of strings: several captions of the same
image (a multi-line ``.txt``, one caption per line; LaCLIP's rewrites beside the original alt-text). A list
is never glued into one text: each optimizer step draws one of them per image from the engine's per-step
generator (stream ``"caption"``), for the step's whole global batch, then keeps this micro-batch's rows, so
N processes draw exactly what one process holding the whole batch draws, and a resumed run repeats the draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from sparse_core.engine.randomness import GlobalRows

__all__ = ["Caption", "CAPTION_STREAM", "read_caption_file", "caption_value", "caption_list", "draw_captions"]

Caption = str | list[str]
"""One caption, or several captions of one image."""
CAPTION_STREAM = "caption"
"""Name of the per-step generator stream of the caption draw."""


def caption_value(lines: Sequence[str]) -> Caption | None:
    """The sample's caption from its non-empty stripped lines: None (no caption), a string or a list."""
    kept = [s.strip() for s in lines if s.strip()]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else kept


def read_caption_file(path: str | Path) -> Caption | None:
    """Captions of a ``.txt`` file: one per non-empty line (several lines = several captions of one image)."""
    return caption_value(Path(path).read_text(encoding="utf-8", errors="replace").splitlines())


def caption_list(caption: Caption) -> list[str]:
    """Every caption of a sample as a list."""
    return [caption] if isinstance(caption, str) else list(caption)


def draw_captions(captions: Sequence[Caption], generator: torch.Generator, rows: GlobalRows) -> list[str]:
    """One caption per sample: a string as is, a list's entry ``floor(u * len)`` with ``u ~ U[0, 1)``.

    ``u`` is drawn for all ``rows.total`` rows of the step's global batch from ``generator`` (one number per
    row, drawn even for single-caption rows, so a row's draw never depends on the other rows' captions) and
    sliced to ``rows.rows``.

    Args:
        captions: this micro-batch's captions, one entry per sample.
        generator: the step's generator of stream :data:`CAPTION_STREAM`.
        rows: where the samples sit in the step's global batch.

    Returns:
        one string per sample.
    """
    u = torch.rand(rows.total, generator=generator, dtype=torch.float64)[rows.rows]
    out = []
    for c, x in zip(captions, u.tolist()):
        options = caption_list(c)
        out.append(options[min(int(x * len(options)), len(options) - 1)])
    return out
