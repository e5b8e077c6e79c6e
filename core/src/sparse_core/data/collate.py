"""Batch collation that drops ``None`` samples (corrupt files) and counts them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor


def _collate_values(key: str, values: list[Any]) -> Any:
    """Collate the values of one key across the samples of a batch."""
    first = values[0]
    if isinstance(first, Tensor):
        return torch.stack(values)
    if isinstance(first, bool):
        return torch.tensor(values, dtype=torch.bool)
    if isinstance(first, int):
        return torch.tensor(values, dtype=torch.long)
    if isinstance(first, float):
        return torch.tensor(values, dtype=torch.float32)
    if isinstance(first, (list, tuple)) and first and all(isinstance(v, Tensor) for v in first):
        lengths = {len(v) for v in values}
        if len(lengths) != 1:
            raise ValueError(f"collate: key {key!r} has lists of different lengths {sorted(lengths)}")
        # Multi-crop: view i of every sample stacked together; views may differ in size between i.
        return [torch.stack([v[i] for v in values]) for i in range(len(first))]
    if isinstance(first, dict):
        return {k: _collate_values(f"{key}.{k}", [v[k] for v in values]) for k in first}
    return list(values)


def collate_skip_none(samples: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """Collate a list of sample dicts, dropping ``None`` entries (skipped corrupt samples).

    Rules per key (decided by the first kept sample's value):

    * ``Tensor`` -> stacked, ``(B, *shape)``;
    * ``int`` -> ``LongTensor (B,)``, ``float`` -> ``FloatTensor (B,)``, ``bool`` -> ``BoolTensor (B,)``;
    * ``list[Tensor]`` of equal length per sample (multi-crop ``"views"``) -> ``list`` of stacked
      tensors, element ``i`` of shape ``(B, *shape_i)``: view sizes may differ between ``i``
      (global and local crops) but not across samples;
    * nested ``dict`` -> collated recursively; anything else (e.g. ``str`` paths) -> plain list.

    Args:
        samples: Dataset outputs; ``None`` marks a sample the dataset could not read.

    Returns:
        The batch dict with an extra ``"num_skipped"`` (int) key holding the number of ``None``
        entries. If every sample was skipped the batch is ``{"num_skipped": n}`` only; the training
        loop should skip such a batch.
    """
    kept = [s for s in samples if s is not None]
    batch: dict[str, Any] = {}
    if kept:
        keys = kept[0].keys()
        for s in kept[1:]:
            if s.keys() != keys:
                raise ValueError(f"collate: samples have different keys {sorted(keys)} vs {sorted(s.keys())}")
        batch = {k: _collate_values(k, [s[k] for s in kept]) for k in keys}
    batch["num_skipped"] = len(samples) - len(kept)
    return batch
