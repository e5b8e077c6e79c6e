"""Atomic checkpoints: write to a temporary file then ``os.replace``; keep the last N; load with weights_only.

A crash while writing leaves only a temporary file (``.tmp_ckpt_<random>``), never a partial file under a
checkpoint name; :func:`remove_stale_temp_files` removes such leftovers when the next run starts. A file under
a checkpoint name can still be damaged afterwards (a full disk, a torn copy, a zero-byte file after a power
loss): :func:`load_latest_checkpoint` then falls back to the newest checkpoint that loads and moves the
damaged one aside (renamed, never deleted) so that no later save overwrites it.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

import torch

from ..config import ConfigError
from ..filemode import set_open_mode

__all__ = ["save_checkpoint", "load_checkpoint", "latest_checkpoint", "list_checkpoints", "prune_checkpoints",
           "load_latest_checkpoint", "remove_stale_temp_files", "CheckpointError", "TEMP_PREFIX",
           "DAMAGED_SUFFIX"]

log = logging.getLogger("sparse_core.engine")

_NAME = re.compile(r"^ckpt_(\d{8})\.pt$")
TEMP_PREFIX = ".tmp_ckpt_"
"""Prefix of the temporary file a checkpoint is written to before it is renamed."""
_TEMP = re.compile(r"^" + re.escape(TEMP_PREFIX) + r"[a-z0-9_]{8}$")  # tempfile.mkstemp's random tail
DAMAGED_SUFFIX = ".damaged"
"""Suffix a checkpoint that fails to load is renamed with (``ckpt_00000012.pt.damaged``)."""
_REQUIRED = ("task", "optimizer", "step")


class CheckpointError(ConfigError):
    """A checkpoint file that cannot be used: damaged, not a checkpoint, or none of a folder's loads."""


def checkpoint_path(ckpt_dir: Path, step: int) -> Path:
    """``ckpt_dir/ckpt_<step, 8 digits>.pt``."""
    return Path(ckpt_dir) / f"ckpt_{step:08d}.pt"


def checkpoint_step(path: str | Path) -> int | None:
    """Step of a checkpoint file name (``ckpt_00000012.pt`` -> 12), None for another name."""
    match = _NAME.match(Path(path).name)
    return int(match.group(1)) if match else None


def list_checkpoints(ckpt_dir: str | Path) -> list[Path]:
    """Complete checkpoints in ``ckpt_dir``, oldest first (temporary and damaged files are ignored)."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    return sorted(p for p in ckpt_dir.iterdir() if _NAME.match(p.name))


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """Newest checkpoint name in ``ckpt_dir`` (not checked for damage; see :func:`load_latest_checkpoint`)."""
    found = list_checkpoints(ckpt_dir)
    return found[-1] if found else None


def save_checkpoint(state: dict[str, Any], ckpt_dir: str | Path, step: int, keep_last: int = 3,
                    protect: Collection[Path] = ()) -> Path:
    """Write ``state`` to ``ckpt_dir/ckpt_<step>.pt`` atomically and delete all but the ``keep_last`` newest.

    A crash at any moment leaves either the previous set of checkpoints or the new one, never a partial file
    under a checkpoint name. The file gets the mode ``open()`` would give it (``0o666`` less the umask), as
    ``config.yaml`` and the rest of the run folder do.

    Args:
        state: what to save (tensors, plain containers and numbers: loadable with ``weights_only=True``).
        ckpt_dir: folder of the checkpoints.
        step: optimizer step, in the file name.
        keep_last: number of newest checkpoints kept.
        protect: checkpoints never pruned (the Trainer keeps the last one from before a loss blow-up).
    """
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    final = checkpoint_path(ckpt_dir, step)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=ckpt_dir)
    try:
        set_open_mode(fd)  # mkstemp's 0600 -> what open() gives (0644 under umask 022), like config.yaml
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    prune_checkpoints(ckpt_dir, keep_last, protect)
    return final


def prune_checkpoints(ckpt_dir: str | Path, keep_last: int, protect: Collection[Path] = ()) -> None:
    """Delete all but the ``keep_last`` newest checkpoints of ``ckpt_dir``, except those in ``protect``."""
    keep = {Path(p).name for p in protect}
    for old in list_checkpoints(ckpt_dir)[:-keep_last]:
        if old.name not in keep:
            old.unlink(missing_ok=True)


def _reason(err: BaseException) -> str:
    """Short reason of a failed load, without torch's advice to unpickle (never follow it for a checkpoint)."""
    if isinstance(err, EOFError):
        return "the file is empty or ends too early"
    if isinstance(err, pickle.UnpicklingError):
        return "it holds objects other than tensors, numbers and plain containers"
    first = str(err).strip().split(". ")[0].splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (no arbitrary code execution from pickles).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: the file is damaged (truncated, zero bytes) or not an engine checkpoint; the message
            names the file and the reason, and never suggests unpickling it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # damaged files raise RuntimeError, EOFError, KeyError, SafetensorError, ...
        raise CheckpointError(f"{path} is not a valid checkpoint ({_reason(err)})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is not a valid checkpoint (it holds a {type(state).__name__}, not a dict)")
    return state


def load_engine_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """:func:`load_checkpoint` of a Trainer checkpoint: also checks its ``task`` / ``optimizer`` / ``step``.

    Raises:
        FileNotFoundError / CheckpointError: as :func:`load_checkpoint`, or an entry is missing.
    """
    state = load_checkpoint(path, map_location)
    missing = [k for k in _REQUIRED if k not in state]
    if missing:
        raise CheckpointError(f"{path} is not a valid checkpoint of the training engine (no {', '.join(missing)} "
                              f"entry; keys: {', '.join(sorted(map(str, state))[:8])})")
    return state


def load_latest_checkpoint(ckpt_dir: str | Path, quarantine: bool = True,
                           map_location: str | torch.device = "cpu") -> tuple[Path, dict[str, Any]] | None:
    """Load the newest checkpoint of ``ckpt_dir`` that loads, skipping damaged ones with a warning.

    Args:
        ckpt_dir: folder of the checkpoints.
        quarantine: rename each damaged newer checkpoint to ``<name>.damaged`` (kept for inspection, never
            deleted; out of the way of the next save of that step). Only one process should pass True.
        map_location: device the tensors are loaded to.

    Returns:
        ``(path, state)`` of the checkpoint, or None when the folder holds no checkpoint.

    Raises:
        CheckpointError: every checkpoint of the folder is damaged (the message lists them).
    """
    found = list_checkpoints(ckpt_dir)
    bad: list[str] = []
    for path in reversed(found):
        try:
            state = load_engine_checkpoint(path, map_location)
        except FileNotFoundError:  # moved aside by the main process meanwhile
            continue
        except CheckpointError as err:
            bad.append(str(err))
            aside = path.with_name(path.name + DAMAGED_SUFFIX)
            if quarantine:
                try:
                    os.replace(path, aside)
                except OSError:
                    aside = path
            log.warning("%s; falling back to an older checkpoint%s", err,
                        f" (moved to {aside.name}, not deleted)" if aside != path else "")
            continue
        return path, state
    if bad:
        raise CheckpointError(f"no checkpoint in {ckpt_dir} can be loaded: {'; '.join(bad)}. Move them away, "
                              "or start over with --train.resume none")
    return None


def temp_file_patterns() -> tuple[re.Pattern[str], ...]:
    """Names of the temporary files the engine and :func:`sparse_core.export.save_weights` write."""
    from ..export import TEMP_NAME

    return (_TEMP, TEMP_NAME)


def remove_stale_temp_files(*folders: str | Path) -> list[Path]:
    """Delete leftover temporary files of interrupted writes directly in ``folders`` (not in sub-folders).

    Only names written by :func:`save_checkpoint` (``.tmp_ckpt_<random>``) and
    :func:`sparse_core.export.save_weights` (``.<name>.<random>.tmp``) are touched; call it only when no
    write of this run can be in flight (the Trainer does at start, on the main process).

    Returns:
        the removed files.
    """
    patterns = temp_file_patterns()
    removed = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.is_file() and not p.is_symlink() and any(pat.match(p.name) for pat in patterns):
                p.unlink(missing_ok=True)
                removed.append(p)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted write: %s", len(removed),
                 ", ".join(str(p) for p in removed))
    return removed
