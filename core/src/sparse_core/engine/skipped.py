"""Which samples were skipped: distinct dataset indices (files), not reads.

A dataset returns ``None`` for a sample it cannot read (see :mod:`sparse_core.data.errors`); the collate drops
it and counts it in ``batch["num_skipped"]``, once per *read*, so 4 bad files over 2 epochs counted 8. The
Trainer instead wraps its dataset in :class:`IndexedDataset` and its collate in :class:`TrackSkipped`, which
hands it the dataset indices of the ``None`` samples of each batch; :class:`SkipLog` keeps the distinct ones
(in checkpoints too, so a resumed run counts as an uninterrupted one) and names the first few files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from torch.utils.data import Dataset, Subset

__all__ = ["IndexedDataset", "TrackSkipped", "SkipLog", "sample_name"]


class IndexedDataset(Dataset):
    """``base[item]`` together with the dataset index: ``(index, sample)``.

    ``item`` is a dataset index or the ``(index, augmentation_seed)`` pair of
    :class:`~sparse_core.engine.sampler.SeededDataset`.

    Args:
        base: the dataset to read.
    """

    def __init__(self, base: Dataset) -> None:
        self.base = base

    def __len__(self) -> int:
        """Length of the base dataset."""
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, item: Any) -> tuple[int, Any]:
        """Return ``(index, base[item])``, ``index`` being ``item`` or its first element for a pair.

        Args:
            item: a dataset index or an ``(index, augmentation_seed)`` pair.
        """
        index = item[0] if isinstance(item, tuple) else item
        return int(index), self.base[item]


class TrackSkipped:
    """Collate of :class:`IndexedDataset` samples: ``(collate_fn(samples), indices of the None samples)``.

    Args:
        collate_fn: the collate of the plain samples (``None`` entries included, as without tracking).
    """

    def __init__(self, collate_fn: Callable[[Sequence[Any]], Any]) -> None:
        self.collate_fn = collate_fn

    def __call__(self, items: Sequence[tuple[int, Any]]) -> tuple[Any, list[int]]:
        """Collate the samples of one batch and list the dataset indices of those that are ``None``.

        Args:
            items: ``(index, sample)`` pairs from :class:`IndexedDataset`.

        Returns:
            ``(collate_fn(samples), indices of the None samples)``.
        """
        samples = [s for _, s in items]
        return self.collate_fn(samples), [i for i, s in items if s is None]


def sample_name(dataset: Any, index: int) -> str:
    """A readable name of sample ``index``: its file when the dataset lists them, else ``"sample <index>"``.

    Looks for ``dataset.sample_name(index)``, then a ``samples`` / ``files`` / ``paths`` list (an entry or the
    first element of a ``(path, label)`` pair), through :class:`~torch.utils.data.Subset` and wrappers that
    keep their dataset as ``base`` or ``dataset`` with the same length.
    """
    seen = 0
    while dataset is not None and seen < 8:
        seen += 1
        named = getattr(dataset, "sample_name", None)
        if callable(named):
            return str(named(index))
        for attr in ("samples", "files", "paths"):
            seq = getattr(dataset, attr, None)
            if isinstance(seq, Sequence) and not isinstance(seq, str) and 0 <= index < len(seq):
                entry = seq[index]
                return str(entry[0] if isinstance(entry, tuple) and entry else entry)
        if isinstance(dataset, Subset):
            index, dataset = int(dataset.indices[index]), dataset.dataset
            continue
        inner = getattr(dataset, "base", None)
        if inner is None:
            inner = getattr(dataset, "dataset", None)
        try:
            same = inner is not None and len(inner) == len(dataset)
        except TypeError:
            same = False
        dataset = inner if same else None
    return f"sample {index}"


class SkipLog:
    """Distinct skipped dataset indices and the number of skipped reads.

    Args:
        dataset: the training dataset, to name the skipped files.
    """

    def __init__(self, dataset: Any = None) -> None:
        self.dataset = dataset
        self.indices: set[int] = set()
        self.reads = 0

    def add(self, indices: Iterable[int]) -> None:
        """Record the skipped samples of one batch (the same index may come again in a later epoch)."""
        for i in indices:
            self.indices.add(int(i))
            self.reads += 1

    def __len__(self) -> int:
        """Number of distinct skipped dataset indices."""
        return len(self.indices)

    def names(self, limit: int = 5) -> list[str]:
        """Names of the first ``limit`` skipped samples, by dataset index."""
        return [sample_name(self.dataset, i) for i in sorted(self.indices)[:limit]]

    def summary(self, limit: int = 5) -> str:
        """``"3 distinct samples (5 reads) were skipped: a.png, b.png, c.png"``."""
        more = f", ... ({len(self) - limit} more)" if len(self) > limit else ""
        return (f"{len(self)} distinct corrupt or unreadable samples ({self.reads} reads) were skipped: "
                f"{', '.join(self.names(limit))}{more}")

    def state_dict(self) -> dict[str, Any]:
        """``{"indices": sorted list, "reads": int}`` for checkpoints."""
        return {"indices": sorted(self.indices), "reads": self.reads}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.indices = {int(i) for i in state.get("indices", [])}
        self.reads = int(state.get("reads", 0))

    def merge(self, other_indices: Iterable[int], other_reads: int) -> None:
        """Union with another process' log (indices) and add its reads."""
        self.indices |= {int(i) for i in other_indices}
        self.reads += int(other_reads)
