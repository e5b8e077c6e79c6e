"""Seeded model construction: the same ``train.seed`` gives bitwise-equal initial weights.

The Trainer reseeds the global RNG at every step (:func:`~sparse_core.engine.trainer.step_seed`), but the
model is built before the Trainer exists: its initialisation draws from whatever state the global RNGs are
in. Build it under :func:`seeded` (or with :func:`build_seeded`) so that ``--train.seed`` covers it too::

    with seeded(cfg.train.seed):
        task = build_task(cfg)

The block seeds torch (CPU and every CUDA device), NumPy and Python's :mod:`random` with ``seed`` (torch with
exactly ``torch.manual_seed(seed)``, as DILEMMA's runner did) and restores their previous states afterwards,
so it neither depends on nor disturbs the randomness around it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = ["seeded", "build_seeded"]

T = TypeVar("T")


@contextmanager
def seeded(seed: int, restore: bool = True) -> Iterator[None]:
    """Seed torch, NumPy and :mod:`random` with ``seed`` for the block.

    Args:
        seed: non-negative seed (``train.seed``); NumPy gets ``seed % 2**32``.
        restore: put the previous RNG states back on exit (default).
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002 (the global RNG)
    try:
        with torch.random.fork_rng(devices=devices, enabled=restore):
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)  # noqa: NPY002 (what legacy inits draw from)
            random.seed(seed)
            yield
    finally:
        if restore:
            random.setstate(py_state)
            np.random.set_state(np_state)  # noqa: NPY002


def build_seeded(fn: Callable[..., T], seed: int, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` under :func:`seeded(seed) <seeded>`: e.g. ``build_seeded(build_task, seed, cfg)``."""
    with seeded(seed):
        return fn(*args, **kwargs)
