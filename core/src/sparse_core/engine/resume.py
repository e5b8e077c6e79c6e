"""May this run resume that checkpoint? Compare the resolved config saved with a run to the new one.

Reusing an ``out_dir`` with another config used to resume silently (and overwrite ``config.yaml``), or crash
inside ``load_state_dict`` when the architecture differed. The Trainer now compares the config the checkpoint
was written under (stored in the checkpoint; ``out_dir/config.yaml`` for older checkpoints) with the new one
before anything is trained or written, and refuses with :class:`ResumeConfigError` listing the keys that
differ, unless every one of them is safe to change on resume (:data:`SAFE_ON_RESUME`).

Safe to change on resume (a key or a whole group, by dotted prefix):

* ``train.max_steps``, ``train.epochs``: extend (or shorten) the run; the lr / weight-decay schedules are pure
  functions of ``(step, total_steps)`` and follow the new length from the resumed step on.
* ``train.out_dir``, ``train.resume``: where the run lives and how it resumes (a moved folder is the same run).
* ``train.log_every``, ``train.ckpt_every``, ``train.keep_last``, ``train.progress``: logging, progress and
  checkpoint cadence; they change nothing that is computed.
* ``train.num_workers``: the data order and augmentation seeds do not depend on it (exact resume holds).
* ``train.deterministic``: kernel choice only (the same math up to floating-point order).
* ``eval``: a package's post-training evaluation settings (DILEMMA's ``eval`` group), read after training.

Everything else refuses: the architecture (a checkpoint would not load or would load into another model),
the method and its losses, the data, ``train.seed`` / ``batch_size`` / ``grad_accum`` / ``precision`` /
``clip_grad`` and every ``optim.*`` key (the resumed run would silently be another experiment). A package
adds keys of its own that only matter at start (an initial checkpoint that the resumed state replaces) with
the Trainer's ``safe_resume_keys``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ..config import ConfigError, config_to_dict

__all__ = ["SAFE_ON_RESUME", "ResumeConfigError", "config_differences", "resolved_config",
           "check_resume_config"]

SAFE_ON_RESUME: tuple[str, ...] = (
    "train.max_steps", "train.epochs", "train.out_dir", "train.resume", "train.log_every", "train.ckpt_every",
    "train.keep_last", "train.progress", "train.num_workers", "train.deterministic", "eval",
)
"""Dotted keys (or group prefixes) that may differ between a run and its resumption."""

_ABSENT = "<absent>"


class ResumeConfigError(ConfigError):
    """The run in ``out_dir`` was trained with a config that differs from the new one in unsafe keys."""


def resolved_config(cfg: Any) -> dict[str, Any]:
    """The YAML round trip of a config dataclass (or dict): what ``config.yaml`` holds once re-read."""
    data = config_to_dict(cfg)
    return yaml.safe_load(yaml.safe_dump(data, sort_keys=False)) or {}


def config_differences(old: Mapping[str, Any], new: Mapping[str, Any],
                       prefix: str = "") -> list[tuple[str, Any, Any]]:
    """Leaf keys whose values differ between two resolved configs (nested dicts), in the new config's order.

    Args:
        old: the saved config (nested dicts of plain values).
        new: the new config, the same form.
        prefix: dotted prefix of these mappings' keys.

    Returns:
        ``(dotted_key, old_value, new_value)`` for each difference; a key missing on one side has the value
        ``"<absent>"`` there.
    """
    out: list[tuple[str, Any, Any]] = []
    for key in list(new) + [k for k in old if k not in new]:
        a, b = old.get(key, _ABSENT), new.get(key, _ABSENT)
        name = f"{prefix}{key}"
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += config_differences(a, b, name + ".")
        elif a != b:
            out.append((name, a, b))
    return out


def _is_safe(key: str, safe: Iterable[str]) -> bool:
    return any(key == s or key.startswith(s + ".") for s in safe)


def check_resume_config(saved: Mapping[str, Any], new: Any, source: str | Path,
                        extra_safe: Iterable[str] = ()) -> list[str]:
    """Refuse to resume when ``saved`` and ``new`` differ in a key that is not safe to change on resume.

    Args:
        saved: the resolved config the checkpoint was written under.
        new: the new run's config (dataclass or dict).
        source: where ``saved`` came from, for the message.
        extra_safe: more safe keys / prefixes besides :data:`SAFE_ON_RESUME`.

    Returns:
        the safe keys that differ (the caller may log them).

    Raises:
        ResumeConfigError: one line naming each unsafe differing key with its old and new value, and the two
            ways out (a new ``train.out_dir``, or ``--train.resume none``).
    """
    safe = (*SAFE_ON_RESUME, *extra_safe)
    diffs = config_differences(saved, resolved_config(new))
    unsafe = [d for d in diffs if not _is_safe(d[0], safe)]
    if unsafe:
        listed = ", ".join(f"{k}: {a!r} -> {b!r}" for k, a, b in unsafe)
        raise ResumeConfigError(
            f"cannot resume: the run in this out_dir was trained with another config ({source}); differing "
            f"keys: {listed}. Use a new --train.out_dir, or --train.resume none to start over in this folder")
    return [k for k, _, _ in diffs]
