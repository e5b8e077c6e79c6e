"""Image-text pairs in webdataset tar shards (the layout of YFCC15M / CC12M as written by img2dataset).

A shard is a plain (uncompressed) tar whose members are grouped into samples by webdataset's key rule: the
key is the member path up to the first dot of its file name, the rest is the extension. A sample is a pair
when it has an image (``jpg``, ``jpeg``, ``png``, ``webp``) and a caption (``txt``, one caption per
non-empty line as in :class:`~sfclip.data.PairFolder`, or ``json`` with a ``"caption"`` string or list of
strings, used when there is no ``txt``). :class:`TarPairs` indexes the members' byte offsets once
(headers only) and reads a sample with ``os.pread`` (no shared file position, so DataLoader workers forked
after the index is built read safely), i.e. it is a map-style dataset the engine's seeded step sampler can
shuffle and resume. A corrupt image or an empty caption gives ``None`` (dropped and counted by the engine,
like :class:`~sfclip.data.PairFolder`); a truncated shard keeps the samples before the damage (logged).

Shard lists follow webdataset's notation: brace patterns (``/data/cc12m/{00000..01242}.tar``, expanded with
the ``braceexpand`` package webdataset depends on), several joined by ``::``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tarfile
import tempfile
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from braceexpand import braceexpand
from PIL import Image
from torch.utils.data import Dataset

from sfclip.captions import Caption, caption_value
from sparse_core.data.errors import DatasetError
from sparse_core.data.image_folder import read_resized

__all__ = ["TarPairs", "expand_shards", "scan_members", "IMAGE_EXTENSIONS", "CAPTION_EXTENSIONS"]

log = logging.getLogger("sfclip.tar_shards")

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")
"""Member extensions read as the image of a sample, in order of preference."""
CAPTION_EXTENSIONS = ("txt", "json")
"""Member extensions read as the caption (``json``: its ``"caption"`` field), in order of preference."""
MAX_OPEN = 64
"""Shard files kept open per process (least recently used closed first)."""

Member = tuple[int, int, int, str]
"""(shard number, byte offset of the data, size, extension)."""


def expand_shards(patterns: str | Sequence[str], key: str = "data.shards") -> list[Path]:
    """Shard paths of brace patterns, in order, each checked to be a file.

    Args:
        patterns: one pattern, several joined by ``::``, or a list of them (``"a/{000..009}.tar"``, plain
            paths).
        key: the config key named in errors.

    Returns:
        the expanded paths.

    Raises:
        DatasetError: no pattern, or an expanded path that is not a file (the first one is named).
    """
    items = [p for p in patterns.split("::") if p.strip()] if isinstance(patterns, str) else list(patterns)
    paths = [Path(p) for pattern in items for p in braceexpand(str(pattern))]
    if not paths:
        raise DatasetError(f"{key}: no tar shard given")
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DatasetError(f"{key}: {len(missing)} of {len(paths)} shards are not files, e.g. {str(missing[0])!r}")
    return paths


def _split_key(name: str) -> tuple[str, str]:
    """webdataset's rule: ``dir/abc.seg.jpg`` -> (``dir/abc``, ``seg.jpg``)."""
    head, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    return (f"{head}/{stem}" if head else stem), ext.lower() if dot else ""


_BLOCK = 512
_FILE_TYPES = (b"0", b"\0", b"7")  # regular file, old regular file, contiguous file


def _header_size(header: bytes) -> int:
    """The size field of a tar header: octal, or GNU base-256 when its first byte has the high bit set."""
    field = header[124:136]
    if field[0] & 0x80:
        return int.from_bytes(field[1:], "big")
    digits = field.split(b"\0", 1)[0].strip()
    return int(digits, 8) if digits else 0


def _pax_path(data: bytes) -> str | None:
    """The ``path`` record of a pax extended header (``"<len> path=<value>\n"`` records)."""
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        key, _, value = data[space + 1:pos + length - 1].partition(b"=")
        if key == b"path":
            return value.decode("utf-8", errors="replace")
        pos += length
    return None


def scan_members(path: Path) -> list[tuple[str, int, int]]:
    """``(name, data offset, size)`` of the regular files of a plain tar, from its headers only.

    About 10x faster than iterating :mod:`tarfile` (which builds a ``TarInfo`` per member), which matters for
    the tens of millions of members of CC12M. Reads ustar / GNU (``L`` long names, base-256 sizes) and pax
    (``x`` headers' ``path``) headers, as :mod:`tarfile` and webdataset write them.

    Raises:
        tarfile.ReadError: a header with a bad checksum or a member running past the end of the file, after
            the members before it have been put in ``err.members``.
    """
    members: list[tuple[str, int, int]] = []
    end = path.stat().st_size
    pos = 0
    long_name: str | None = None
    with open(path, "rb") as f:
        while True:
            header = f.read(_BLOCK)
            if len(header) < _BLOCK or header == bytes(_BLOCK):
                if 0 < len(header) < _BLOCK:
                    err = tarfile.ReadError(f"truncated header at byte {pos}")
                    err.members = members  # type: ignore[attr-defined]
                    raise err
                return members
            stored = header[148:156].split(b"\0", 1)[0].strip()
            checksum = sum(header[:148]) + 8 * 32 + sum(header[156:])
            size = _header_size(header)
            data_at = pos + _BLOCK
            if not stored or int(stored, 8) != checksum or data_at + size > end:
                err = tarfile.ReadError(f"bad header or member past the end at byte {pos}")
                err.members = members  # type: ignore[attr-defined]
                raise err
            kind = header[156:157]
            if kind in (b"L", b"x"):
                data = f.read(size)
                if kind == b"L":
                    long_name = data.split(b"\0", 1)[0].decode("utf-8", errors="replace")
                else:
                    long_name = _pax_path(data) or long_name
            elif kind in _FILE_TYPES:
                if long_name is not None:
                    name = long_name
                else:
                    name = header[:100].split(b"\0", 1)[0].decode("utf-8", errors="replace")
                    prefix = header[345:500].split(b"\0", 1)[0] if header[257:262] == b"ustar" else b""
                    if prefix:
                        name = f"{prefix.decode('utf-8', errors='replace')}/{name}"
                members.append((name, data_at, size))
                long_name = None
            else:  # directories, links, global pax headers: no sample data
                long_name = None if kind != b"g" else long_name
            pos = data_at + -(-size // _BLOCK) * _BLOCK
            f.seek(pos)


def _cache_file(cache: Path, path: Path) -> Path:
    """Cache file of a shard's member list: named by its absolute path, size and modification time."""
    st = path.stat()
    tag = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:20]
    return cache / f"{path.stem[:40]}-{tag}.npz"


def _members(path: Path, cache: Path | None) -> list[tuple[str, int, int]]:
    """The regular files of one shard (see :func:`scan_members`), through the cache folder when given; a
    damaged shard keeps the members before the damage (logged) and is not cached."""
    target = _cache_file(cache, path) if cache is not None else None
    if target is not None and target.is_file():
        try:
            with np.load(target, allow_pickle=False) as z:
                return list(zip(z["names"].tolist(), z["offsets"].tolist(), z["sizes"].tolist()))
        except (OSError, ValueError, KeyError):
            log.warning("unreadable tar index cache %s; rescanning %s", target, path)
    try:
        members = scan_members(path)
    except (tarfile.ReadError, OSError, ValueError) as err:
        members = getattr(err, "members", [])
        log.warning("tar shard %s is damaged after %d members (%s); kept those", path, len(members), err)
        return members
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".npz", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, names=np.array([m[0] for m in members], dtype=str),
                         offsets=np.array([m[1] for m in members], dtype=np.int64),
                         sizes=np.array([m[2] for m in members], dtype=np.int64))
            os.replace(tmp, target)  # atomic: processes indexing the same shard at once all write whole files
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return members


def _index_shard(number: int, path: Path, cache: Path | None = None) -> list[tuple[str, dict[str, Member]]]:
    """Samples of one shard in member order: ``(key, {extension: member})``."""
    samples: dict[str, dict[str, Member]] = {}
    for name, offset, size in _members(path, cache):
        key, ext = _split_key(name)
        samples.setdefault(key, {})[ext] = (number, offset, size, ext)
    return list(samples.items())


class TarPairs(Dataset):
    """Map-style image-text pairs of webdataset tar shards.

    Samples are ``{"image": (3, size, size) float in [0, 1], "caption": str, "index": int}``; ``None`` for a
    corrupt image or an empty caption.

    Args:
        shards: tar paths or brace patterns (see :func:`expand_shards`).
        size: image side after resizing.
        index_cache: folder keeping each shard's member list (``.npz`` named by the shard's path, size and
            modification time), so later runs and the other processes of a launch do not rescan the headers
            (tens of millions of small reads for CC12M); empty: scan every time.

    Raises:
        DatasetError: a missing shard, or shards without any image + caption pair.
    """

    def __init__(self, shards: str | Sequence[str], size: int, index_cache: str | Path = "") -> None:
        self.paths = expand_shards(shards)
        cache = Path(index_cache) if str(index_cache) else None
        self.size = size
        keys: list[str] = []
        rows: list[tuple[int, int, int, int, int]] = []  # shard, image offset / size, caption offset / size
        exts: list[tuple[str, str]] = []
        for number, path in enumerate(self.paths):
            for key, members in _index_shard(number, path, cache):
                image = next((members[e] for e in IMAGE_EXTENSIONS if e in members), None)
                caption = next((members[e] for e in CAPTION_EXTENSIONS if e in members), None)
                if image is not None and caption is not None:
                    keys.append(key)
                    rows.append((number, image[1], image[2], caption[1], caption[2]))
                    exts.append((image[3], caption[3]))
        if not keys:
            raise DatasetError(f"data.shards: no image + caption pair in {len(self.paths)} shards "
                               f"(e.g. {str(self.paths[0])!r}); members must be <key>.jpg|png|webp + <key>.txt|json")
        # numpy arrays, not lists of Python objects: forked DataLoader workers share them without the copies
        # that reference counting makes of every touched object (CC12M: 12 M pairs)
        self.keys = np.array(keys)
        self._rows = np.array(rows, dtype=np.int64)
        self._caption_is_json = np.array([c == "json" for _, c in exts], dtype=bool)
        self._files: OrderedDict[tuple[int, int], int] = OrderedDict()

    def __len__(self) -> int:
        """Number of pairs indexed."""
        return len(self.keys)

    def sample_name(self, i: int) -> str:
        """``<shard path>:<key>`` of pair ``i`` (named in the engine's log of skipped samples)."""
        return f"{self.paths[int(self._rows[i, 0])]}:{self.keys[i]}"

    def _read(self, number: int, offset: int, size: int) -> bytes:
        """The bytes of one member, through a per-process LRU of open file descriptors."""
        handle = (os.getpid(), number)
        fd = self._files.pop(handle, None)
        if fd is None:
            fd = os.open(self.paths[number], os.O_RDONLY)
            while len(self._files) >= MAX_OPEN:
                os.close(self._files.popitem(last=False)[1])
        self._files[handle] = fd
        return os.pread(fd, size, offset)

    def rewrite_row(self, i: int) -> int:
        """The number of pair ``i``'s key (img2dataset numbers the pairs by their row in its input list), the
        line of LaCLIP's rewrite files that belongs to it.

        Raises:
            DatasetError: the key is not a number.
        """
        name = str(self.keys[i]).rpartition("/")[2]
        if not name.isdigit():
            raise DatasetError(f"data.rewrites: webdataset key {self.keys[i]!r} is not a row number "
                               "(img2dataset's numbering is needed to find its rewrites)")
        return int(name)

    def _caption(self, i: int) -> Caption | None:
        number, _, _, offset, size = (int(v) for v in self._rows[i])
        raw = self._read(number, offset, size).decode("utf-8", errors="replace")
        if not self._caption_is_json[i]:
            return caption_value(raw.splitlines())
        try:
            value = json.loads(raw).get("caption", "")
        except (json.JSONDecodeError, AttributeError):
            return None
        if isinstance(value, str):
            return caption_value(value.splitlines())
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return caption_value(value)
        return None

    def _image(self, i: int) -> torch.Tensor | None:
        number, offset, size, _, _ = (int(v) for v in self._rows[i])
        try:
            return read_resized(io.BytesIO(self._read(number, offset, size)), self.size)
        except (OSError, ValueError, Image.DecompressionBombError):
            return None

    def __getitem__(self, i: int) -> dict[str, Any] | None:
        """Pair ``i``, or None when its image is corrupt or its caption empty."""
        caption = self._caption(i)
        if caption is None:
            return None
        image = self._image(i)
        return None if image is None else {"image": image, "caption": caption, "index": int(i)}

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without open file descriptors (spawned workers reopen their own)."""
        state = dict(self.__dict__)
        state["_files"] = OrderedDict()
        return state

    def __del__(self) -> None:
        for fd in getattr(self, "_files", {}).values():
            try:
                os.close(fd)
            except OSError:
                pass
