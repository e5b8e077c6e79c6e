"""A sharded, memory-mapped, resumable feature store: precomputed per-record arrays on disk.

Layout under ``root``::

    index.json                 {"version": 1,
                                "fields": {name: {"shape": [...], "dtype": "float16"}},
                                "shards": [{"id": 0, "count": n, "dir": "shard_00000",
                                            "info": {...}}, ...],   (info optional)
                                "meta": {...}}
    shard_00000/<field>.npy    (count, *shape) arrays, one file per field

The index is the single source of truth: a shard exists once it is listed there. A shard is written to a
temporary folder (``.tmp_shard_<random>``), then renamed to its final name, then the index is rewritten
through a temporary file and ``os.replace``; a run killed at any point leaves either the old index or the
new one, never a torn shard under a listed name. Leftover temporary folders (and a finished shard folder
that a kill kept out of the index) are ignored by readers and removed by the next writer.

One writer per store at a time (the index is rewritten by the process that writes a shard).
"""

from __future__ import annotations

import bisect
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import ConfigError

__all__ = ["FeatureStore", "FeatureStoreWriter", "FieldSpec", "INDEX_NAME", "INDEX_VERSION",
           "TEMP_PREFIX", "shard_dir_name"]

FieldSpec = tuple[tuple[int, ...], str]
"""A field's per-record shape and numpy dtype name, e.g. ``((16, 1280), "float16")``."""

INDEX_NAME = "index.json"
INDEX_VERSION = 1
TEMP_PREFIX = ".tmp_shard_"
"""Prefix of the temporary folder a shard is written to before it is renamed."""
_TEMP_DIR = re.compile(r"^" + re.escape(TEMP_PREFIX) + r"[a-z0-9_]{8}$")  # tempfile.mkdtemp's random tail
_TEMP_INDEX = re.compile(r"^\." + re.escape(INDEX_NAME) + r"\.[a-z0-9_]{8}\.tmp$")
_SHARD_DIR = re.compile(r"^shard_(\d{5,})$")


def shard_dir_name(shard_id: int) -> str:
    """Folder name of a shard: ``shard_<id, 5 digits>``."""
    return f"shard_{shard_id:05d}"


def _normalise_fields(fields: Any, where: str) -> dict[str, FieldSpec]:
    """``{name: (shape tuple, dtype name)}`` from either the API form or the index form; errors name ``where``."""
    out: dict[str, FieldSpec] = {}
    if not isinstance(fields, Mapping) or not fields:
        raise ConfigError(f"{where}: 'fields' must be a non-empty mapping of name -> (shape, dtype)")
    for name, spec in fields.items():
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
            raise ConfigError(f"{where}: bad field name {name!r} (a plain file name is required)")
        try:
            if isinstance(spec, Mapping):
                shape, dtype = spec["shape"], spec["dtype"]
            else:
                shape, dtype = spec
            shape_t = tuple(int(s) for s in shape)
            if any(s < 0 for s in shape_t):
                raise ValueError("negative size")
            dtype_s = np.dtype(dtype).name
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{where}: field {name!r} needs a shape (list of sizes >= 0) and a numpy dtype, "
                              f"got {spec!r} ({err})") from None
        out[name] = (shape_t, dtype_s)
    return out


def _fields_json(fields: Mapping[str, FieldSpec]) -> dict[str, dict[str, Any]]:
    return {name: {"shape": list(shape), "dtype": dtype} for name, (shape, dtype) in fields.items()}


def _read_index(root: Path) -> dict[str, Any]:
    """The parsed, validated index of ``root``; a missing or corrupt file raises :class:`ConfigError`."""
    path = root / INDEX_NAME
    if not path.is_file():
        raise ConfigError(f"no feature store index at {path} (write the store first, e.g. with scale-extract)")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"corrupt feature store index {path}: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"corrupt feature store index {path}: expected a JSON object")
    if data.get("version") != INDEX_VERSION:
        raise ConfigError(f"feature store index {path} has version {data.get('version')!r}; "
                          f"this code reads version {INDEX_VERSION}")
    fields = _normalise_fields(data.get("fields"), str(path))
    shards = data.get("shards")
    if not isinstance(shards, list):
        raise ConfigError(f"corrupt feature store index {path}: 'shards' must be a list")
    root_resolved = root.resolve()
    seen: set[int] = set()
    checked: list[dict[str, Any]] = []
    for entry in shards:
        try:
            sid, count, sdir = int(entry["id"]), int(entry["count"]), str(entry["dir"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"corrupt feature store index {path}: bad shard entry {entry!r}") from None
        if sid < 0 or count < 0 or sid in seen:
            raise ConfigError(f"corrupt feature store index {path}: bad or repeated shard entry {entry!r}")
        target = (root / sdir).resolve()
        if Path(sdir).is_absolute() or target == root_resolved or not target.is_relative_to(root_resolved):
            raise ConfigError(f"feature store index {path}: shard folder {sdir!r} lies outside the store {root}")
        seen.add(sid)
        item: dict[str, Any] = {"id": sid, "count": count, "dir": sdir}
        if "info" in entry:
            if not isinstance(entry["info"], dict):
                raise ConfigError(f"corrupt feature store index {path}: shard {sid}'s 'info' must be an object")
            item["info"] = entry["info"]
        checked.append(item)
    checked.sort(key=lambda e: e["id"])
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise ConfigError(f"corrupt feature store index {path}: 'meta' must be an object")
    return {"version": INDEX_VERSION, "fields": fields, "shards": checked, "meta": meta}


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file in the same folder and ``os.replace``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FeatureStoreWriter:
    """Writes shards of a :class:`FeatureStore`, each atomically; reopening an existing store resumes it.

    Args:
        root: store folder (created if missing).
        fields: ``{name: (per-record shape, numpy dtype name)}``. None reads them from an existing index;
            given for an existing store, they must equal the index's.

    Raises:
        ConfigError: no fields and no index, a corrupt index, or fields that differ from the index's.
    """

    def __init__(self, root: str | Path, fields: Mapping[str, FieldSpec] | None = None) -> None:
        self.root = Path(root)
        index_path = self.root / INDEX_NAME
        if index_path.exists():
            index = _read_index(self.root)
            if fields is not None:
                wanted = _normalise_fields(fields, "FeatureStoreWriter")
                if wanted != index["fields"]:
                    raise ConfigError(f"feature store {self.root} holds fields {_fields_json(index['fields'])}, "
                                      f"not the requested {_fields_json(wanted)}; use a new folder")
            self.fields: dict[str, FieldSpec] = index["fields"]
            self._shards: dict[int, dict[str, Any]] = {e["id"]: e for e in index["shards"]}
            self.meta: dict[str, Any] = index["meta"]
        else:
            if fields is None:
                raise ConfigError(f"no feature store index at {index_path}, and no fields given to create one")
            self.fields = _normalise_fields(fields, "FeatureStoreWriter")
            self._shards = {}
            self.meta = {}
            self.root.mkdir(parents=True, exist_ok=True)
            self._write_index()
        self.removed_leftovers = self._clean_leftovers()

    @property
    def shard_ids(self) -> list[int]:
        """Ids of the shards already written, ascending."""
        return sorted(self._shards)

    def __len__(self) -> int:
        """Records written so far, over all shards."""
        return sum(e["count"] for e in self._shards.values())

    def has_shard(self, shard_id: int) -> bool:
        """Whether shard ``shard_id`` is complete (listed in the index)."""
        return shard_id in self._shards

    def write_shard(self, shard_id: int, arrays: Mapping[str, np.ndarray],
                    info: Mapping[str, Any] | None = None) -> Path:
        """Write one shard (replacing a shard of the same id) and list it in the index.

        Args:
            shard_id: id >= 0; records are read back in shard-id order.
            arrays: every field, shape ``(n, *field shape)``, the same ``n`` for all; cast to the field dtype.
            info: JSON-serialisable facts about this shard (e.g. the inputs it skipped), kept in its index entry
                (``FeatureStore.shards[i]["info"]``), so they are written atomically with the shard.

        Returns:
            The shard's folder.

        Raises:
            ConfigError: a missing or unknown field, a wrong per-record shape or differing lengths.
        """
        if int(shard_id) < 0:
            raise ConfigError(f"shard id must be >= 0, got {shard_id}")
        if info is not None:
            info = dict(info)
            try:
                json.dumps(info)
            except (TypeError, ValueError) as err:
                raise ConfigError(f"shard {shard_id}: info must be JSON-serialisable: {err}") from None
        shard_id = int(shard_id)
        missing = sorted(set(self.fields) - set(arrays))
        extra = sorted(set(arrays) - set(self.fields))
        if missing or extra:
            raise ConfigError(f"shard {shard_id}: missing fields {missing}, unknown fields {extra}; "
                              f"the store has {sorted(self.fields)}")
        prepared: dict[str, np.ndarray] = {}
        count: int | None = None
        for name, (shape, dtype) in self.fields.items():
            arr = np.asarray(arrays[name])
            if arr.ndim != len(shape) + 1 or tuple(arr.shape[1:]) != shape:
                raise ConfigError(f"shard {shard_id}: field {name!r} has shape {tuple(arr.shape)}, "
                                  f"expected (n, {', '.join(map(str, shape))})".replace(", )", ")"))
            if count is None:
                count = int(arr.shape[0])
            elif arr.shape[0] != count:
                raise ConfigError(f"shard {shard_id}: field {name!r} has {arr.shape[0]} records, others {count}")
            prepared[name] = np.ascontiguousarray(arr.astype(dtype, copy=False))
        assert count is not None
        final = self.root / shard_dir_name(shard_id)
        tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=self.root))
        try:
            for name, arr in prepared.items():
                with open(tmp / f"{name}.npy", "wb") as f:
                    np.save(f, arr, allow_pickle=False)
                    f.flush()
                    os.fsync(f.fileno())
            if final.exists():  # a previous version of this shard, or one a kill kept out of the index
                self._shards.pop(shard_id, None)
                self._write_index()
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        entry: dict[str, Any] = {"id": shard_id, "count": count, "dir": final.name}
        if info is not None:
            entry["info"] = info
        self._shards[shard_id] = entry
        self._write_index()
        return final

    def set_meta(self, meta: Mapping[str, Any]) -> None:
        """Replace the store's metadata (JSON-serialisable) and rewrite the index."""
        meta = dict(meta)
        try:
            json.dumps(meta)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"feature store meta must be JSON-serialisable: {err}") from None
        self.meta = meta
        self._write_index()

    def _write_index(self) -> None:
        _write_json_atomic(self.root / INDEX_NAME, {
            "version": INDEX_VERSION,
            "fields": _fields_json(self.fields),
            "shards": [self._shards[i] for i in sorted(self._shards)],
            "meta": self.meta,
        })

    def _clean_leftovers(self) -> list[Path]:
        """Remove temporary shard folders / index files and shard folders the index does not list."""
        listed = {e["dir"] for e in self._shards.values()}
        removed = []
        for child in self.root.iterdir():
            stale_dir = child.is_dir() and (_TEMP_DIR.match(child.name)
                                            or (_SHARD_DIR.match(child.name) and child.name not in listed))
            stale_file = child.is_file() and _TEMP_INDEX.match(child.name)
            if stale_dir:
                shutil.rmtree(child, ignore_errors=True)
                removed.append(child)
            elif stale_file:
                child.unlink(missing_ok=True)
                removed.append(child)
        return removed


class FeatureStore:
    """Read access to a store written by :class:`FeatureStoreWriter`: memory-mapped per shard.

    Args:
        root: store folder with ``index.json``.

    Raises:
        ConfigError: the index is missing or corrupt (the message names the file), or a shard folder escapes
            ``root``.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        index = _read_index(self.root)
        self.fields: dict[str, FieldSpec] = index["fields"]
        self.meta: dict[str, Any] = index["meta"]
        self.shards: list[dict[str, Any]] = index["shards"]
        self._starts = np.cumsum([0] + [e["count"] for e in self.shards]).tolist()
        self._maps: dict[tuple[int, str], np.ndarray] = {}

    def __len__(self) -> int:
        """Records over all shards."""
        return int(self._starts[-1])

    def _field(self, name: str) -> FieldSpec:
        if name not in self.fields:
            raise KeyError(f"no field {name!r} in feature store {self.root}; fields: {sorted(self.fields)}")
        return self.fields[name]

    def shard_array(self, position: int, name: str) -> np.ndarray:
        """The memory-mapped ``(count, *shape)`` array of one field in the ``position``-th shard (id order)."""
        key = (position, name)
        if key not in self._maps:
            shape, dtype = self._field(name)
            entry = self.shards[position]
            path = self.root / entry["dir"] / f"{name}.npy"
            try:
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as err:
                raise ConfigError(f"feature store shard file {path} cannot be read: {err}") from None
            if arr.shape != (entry["count"], *shape) or arr.dtype != np.dtype(dtype):
                raise ConfigError(f"feature store shard file {path} holds {arr.dtype} {arr.shape}, the index "
                                  f"says {dtype} {(entry['count'], *shape)}")
            self._maps[key] = arr
        return self._maps[key]

    def array(self, name: str) -> np.ndarray:
        """All records of field ``name`` in shard-id order, shape ``(len(self), *shape)``.

        One shard gives its memory map itself (nothing read yet); several are concatenated in memory.
        """
        shape, dtype = self._field(name)
        parts = [self.shard_array(i, name) for i in range(len(self.shards))]
        if not parts:
            return np.zeros((0, *shape), dtype=dtype)
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts, axis=0)

    def load(self, names: Sequence[str] | None = None, device: torch.device | str | None = None,
             dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
        """Fields as tensors in memory (on ``device`` when given), e.g. the whole training set on the GPU.

        Args:
            names: fields to load (default all).
            device: target device (default CPU).
            dtype: cast floating-point fields to this dtype; integer fields keep theirs.

        Returns:
            ``{name: tensor (len(self), *shape)}``.
        """
        out: dict[str, torch.Tensor] = {}
        target = torch.device(device) if device is not None else torch.device("cpu")
        for name in (list(self.fields) if names is None else names):
            shape, np_dtype = self._field(name)
            t_dtype = torch.from_numpy(np.zeros(0, dtype=np_dtype)).dtype
            if dtype is not None and t_dtype.is_floating_point:
                t_dtype = dtype
            t = torch.empty((len(self), *shape), dtype=t_dtype, device=target)
            for position, start in enumerate(self._starts[:-1]):  # shard by shard: no full host copy for a GPU
                part = np.array(self.shard_array(position, name), copy=True)  # one shard in host memory
                t[start:start + len(part)] = torch.from_numpy(part).to(target).to(t_dtype)
            out[name] = t
        return out

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        """Record ``i`` (negative counts from the end): ``{name: array of the field's shape}``."""
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"record {i} out of range for a feature store of {n} records")
        position = bisect.bisect_right(self._starts, i) - 1
        local = i - self._starts[position]
        return {name: np.asarray(self.shard_array(position, name)[local]) for name in self.fields}
