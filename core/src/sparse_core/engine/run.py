"""Fit a task and export one of its modules: the tail every training CLI shares."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import nn

from sparse_core.engine.task import Task
from sparse_core.engine.trainer import Trainer
from sparse_core.export import save_weights

__all__ = ["fit_and_export"]


def fit_and_export(trainer: Trainer, module: Callable[[Any], nn.Module], filename: str,
                   metadata: Mapping[str, str] | None = None, key: str = "weights") -> dict[str, Any]:
    """Train to the end, then (main process only) write ``module(task)`` as safetensors in ``train.out_dir``.

    Args:
        trainer: a ready :class:`~sparse_core.engine.trainer.Trainer` (resumes by itself).
        module: picks what to export from the unwrapped task (e.g. ``lambda t: t.teacher_encoder``).
        filename: file name inside ``train.out_dir`` (``*.safetensors``).
        metadata: string metadata stored in the safetensors header.
        key: name of the exported path in the returned summary.

    Returns:
        the engine's summary (steps, metrics, checkpoint, time) plus ``key``: the exported path.
    """
    result = trainer.fit()
    out = trainer.out_dir / filename
    if trainer.is_main:
        task: Task = trainer.unwrapped
        save_weights(module(task), out, metadata=dict(metadata or {}))
    result[key] = Path(out)
    return result
