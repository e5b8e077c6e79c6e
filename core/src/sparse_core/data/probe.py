"""Probe a dataset before training: is any sample usable? A folder of garbage is refused before the work.

A dataset returns ``None`` for a sample it cannot read (:mod:`sparse_core.data.errors`), so a folder whose every
file is corrupt would otherwise train on empty batches and export untrained weights. :func:`probe_dataset` reads
a bounded, evenly spread sample of indices until one is usable; if none is, it raises a
:class:`~sparse_core.data.errors.DatasetError` naming the source, how many samples were tried and why they failed.
Random state (torch, numpy, random) is saved and restored, so probing does not change a seeded run.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from sparse_core.data.errors import DatasetError

__all__ = ["probe_dataset", "probe_indices"]


def probe_indices(n: int, max_tries: int) -> list[int]:
    """Up to ``max_tries`` distinct indices spread evenly over ``range(n)``, the first one first."""
    if n <= 0:
        return []
    k = min(n, max_tries)
    return sorted({int(i) for i in np.linspace(0, n - 1, k).round()})


def _describe(dataset: Any) -> str:
    for attr in ("root", "source", "path"):
        value = getattr(dataset, attr, None)
        if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
            return str(value)
    base = getattr(dataset, "base", None) or getattr(dataset, "dataset", None)
    return _describe(base) if base is not None else type(dataset).__name__


def _skip_counter(dataset: Any) -> Any:
    """The dataset that counts skipped samples: ``dataset`` itself or one it wraps (``base`` / ``dataset``)."""
    for _ in range(8):
        if dataset is None or hasattr(dataset, "num_skipped"):
            return dataset
        dataset = getattr(dataset, "base", None) or getattr(dataset, "dataset", None)
    return None


def _skip_reasons(dataset: Any) -> Counter[str]:
    """A copy of the skip reasons counted so far."""
    return Counter(getattr(_skip_counter(dataset), "skip_reasons", None) or {})


def _skip_examples(dataset: Any) -> dict[str, str]:
    """The first skipped file of each reason."""
    return dict(getattr(_skip_counter(dataset), "skip_example", None) or {})


def probe_dataset(dataset: Dataset[Any], what: str | None = None, max_tries: int = 16) -> int:
    """Read samples at :func:`probe_indices` until one is not ``None``; return its index.

    Args:
        dataset: a map-style dataset whose unreadable samples are ``None``.
        what: how the source is named in the error (default: the dataset's ``root`` / ``source`` or class).
        max_tries: most samples read.

    Raises:
        DatasetError: the dataset is empty, or every tried sample was unreadable (the message counts the
            exception types of the failures when the dataset raised instead of returning None).
    """
    name = what or _describe(dataset)
    n = len(dataset)  # type: ignore[arg-type]
    if n == 0:
        raise DatasetError(f"no usable data in {name}: the dataset is empty")
    reasons: Counter[str] = Counter()
    tried = probe_indices(n, max_tries)
    torch_state, np_state, py_state = torch.random.get_rng_state(), np.random.get_state(), random.getstate()  # noqa: NPY002 (the legacy global state readers use)
    seen = _skip_reasons(dataset)
    try:
        for i in tried:
            try:
                sample = dataset[i]
            except Exception as err:  # a reader that raises instead of skipping
                reasons[f"{type(err).__name__}: {err}"[:120]] += 1
                continue
            if sample is not None:
                return i
            counted = _skip_reasons(dataset) - seen
            seen += counted
            if counted:
                reasons.update({f"{kind} (skipped by the reader)": c for kind, c in counted.items()})
            else:
                reasons["unreadable (skipped by the reader)"] += 1
    finally:
        torch.random.set_rng_state(torch_state)
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    why = "; ".join(f"{c}x {r}" for r, c in reasons.most_common(3))
    examples = _skip_examples(dataset)
    if examples:
        why += "; e.g. " + "; ".join(list(examples.values())[:2])
    raise DatasetError(f"no usable data in {name}: all {len(tried)} of {n} samples tried failed ({why})")
