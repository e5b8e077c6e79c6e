"""LaCLIP's language rewrites (Fan et al. 2023): several captions per image, one drawn per step.

LaCLIP publishes, for CC3M / CC12M / RedCaps, the original captions as a CSV (``cc12m_original.csv``: image
path, caption) and four rewrite files (``cc12m_chatgpt.txt``, ``_bard``, ``_mscoco``, ``_human``: the LLaMA
rewrites prompted with each meta-input-output set), one rewrite per line, line ``k`` rewriting row ``k`` of
the CSV. :class:`RewrittenCaptions` wraps any pair source and gives each sample the caption list
``[original, rewrite_1, ..., rewrite_R]``; the task draws one per image and step from the engine's generator
(:func:`sfclip.captions.draw_captions`), as LaCLIP draws uniformly among the original and its rewrites. A
rewrite with fewer than ``min_words`` words is replaced by the original (LaCLIP's ``CsvDatasetAugCap`` rule:
such rewrites are failed generations).

Which line belongs to a sample: for webdataset shards (img2dataset numbers the pairs by their row in its
input list, the LaCLIP CSV), the number of the sample's key (``000012345`` -> line 12345, the source's
``rewrite_row``); for any other source, the dataset index. The files are memory-mapped and their line
offsets kept in one int64 array per file, so DataLoader workers share them (CC12M: 4 files of ~10 M lines).
"""

from __future__ import annotations

import mmap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from sfclip.captions import caption_list
from sparse_core.data.errors import DatasetError

__all__ = ["LineFile", "RewrittenCaptions"]


class LineFile:
    """Random access to the lines of a UTF-8 text file (``file[k]``: line ``k`` without its newline).

    Raises:
        DatasetError: the file is missing.
    """

    def __init__(self, path: str | Path, key: str = "data.rewrites") -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DatasetError(f"{key}: rewrite file {str(path)!r} is not a file")
        with open(self.path, "rb") as f:
            data = f.read() if self.path.stat().st_size == 0 else mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        buf = np.frombuffer(data, dtype=np.uint8) if len(data) else np.zeros(0, np.uint8)
        ends = np.flatnonzero(buf == 10)
        if len(buf) and (not len(ends) or ends[-1] != len(buf) - 1):
            ends = np.append(ends, len(buf))  # a last line without newline
        self._data = data
        self._starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64) if len(ends) else np.zeros(0, np.int64)
        self._ends = ends.astype(np.int64)

    def __len__(self) -> int:
        """Number of lines."""
        return len(self._ends)

    def __getitem__(self, k: int) -> str:
        """Line ``k`` (stripped)."""
        return bytes(self._data[int(self._starts[k]) : int(self._ends[k])]).decode("utf-8", errors="replace").strip()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled by path (a spawned worker maps the file again)."""
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]


class RewrittenCaptions(Dataset):
    """A pair source whose samples carry ``[original, *rewrites]`` as their caption list.

    Args:
        base: the pair source (samples ``{"image", "caption", "index"}``).
        files: rewrite files, one rewrite per line.
        min_words: a rewrite with fewer words is replaced by the original (LaCLIP: 2).

    Raises:
        DatasetError: a missing file, or a file shorter than the rows the source needs (checked on access:
            the message names the file and the row).
    """

    def __init__(self, base: Dataset, files: Sequence[str | Path], min_words: int = 2) -> None:
        self.base = base
        self.files = [LineFile(f) for f in files]
        self.min_words = min_words

    def __len__(self) -> int:
        """Number of pairs of the base source."""
        return len(self.base)  # type: ignore[arg-type]

    def row(self, i: int) -> int:
        """Line of the rewrite files that belongs to sample ``i``."""
        row_of = getattr(self.base, "rewrite_row", None)
        return int(row_of(i)) if row_of is not None else int(i)

    def __getattr__(self, name: str) -> Any:
        """Everything else (``sample_name``, ...) is the base source's."""
        if name in ("base", "__setstate__"):
            raise AttributeError(name)
        return getattr(self.base, name)

    def __getitem__(self, i: int) -> dict[str, Any] | None:
        """Sample ``i`` with its caption list (None where the base sample is None)."""
        sample = self.base[i]
        if sample is None:
            return None
        original = caption_list(sample["caption"])[0]
        k = self.row(i)
        captions = [original]
        for f in self.files:
            if k >= len(f):
                raise DatasetError(f"data.rewrites: {str(f.path)!r} has {len(f)} lines, sample {i} needs line {k}")
            text = f[k]
            captions.append(text if len(text.split()) >= self.min_words else original)
        return {**sample, "caption": captions}
