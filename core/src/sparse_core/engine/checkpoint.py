"""Atomic checkpoints: write to a temporary file then ``os.replace``; keep the last N; load with weights_only."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["save_checkpoint", "load_checkpoint", "latest_checkpoint", "list_checkpoints", "prune_checkpoints"]

_NAME = re.compile(r"^ckpt_(\d{8})\.pt$")


def checkpoint_path(ckpt_dir: Path, step: int) -> Path:
    return Path(ckpt_dir) / f"ckpt_{step:08d}.pt"


def list_checkpoints(ckpt_dir: str | Path) -> list[Path]:
    """Complete checkpoints in ``ckpt_dir``, oldest first (temporary files are ignored)."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    return sorted(p for p in ckpt_dir.iterdir() if _NAME.match(p.name))


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    found = list_checkpoints(ckpt_dir)
    return found[-1] if found else None


def save_checkpoint(state: dict[str, Any], ckpt_dir: str | Path, step: int, keep_last: int = 3) -> Path:
    """Write ``state`` to ``ckpt_dir/ckpt_<step>.pt`` atomically and delete all but the ``keep_last`` newest.

    A crash at any moment leaves either the previous set of checkpoints or the new one, never a partial file
    under a checkpoint name.
    """
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    final = checkpoint_path(ckpt_dir, step)
    fd, tmp = tempfile.mkstemp(prefix=".tmp_ckpt_", dir=ckpt_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    prune_checkpoints(ckpt_dir, keep_last)
    return final


def prune_checkpoints(ckpt_dir: str | Path, keep_last: int) -> None:
    for old in list_checkpoints(ckpt_dir)[:-keep_last]:
        old.unlink(missing_ok=True)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (no arbitrary code execution from pickles)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return torch.load(path, map_location=map_location, weights_only=True)
