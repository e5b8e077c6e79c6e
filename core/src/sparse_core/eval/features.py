"""Frozen-feature extraction over a dataset."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from sparse_core.data.collate import collate_skip_none

logger = logging.getLogger("sparse_core.eval")


@torch.no_grad()
def extract_features(
    fn: Callable[[Tensor], Tensor],
    dataset: Dataset[Any],
    batch_size: int = 256,
    num_workers: int = 0,
    device: torch.device | str | None = None,
    input_key: str = "image",
    label_key: str = "label",
) -> tuple[Tensor, Tensor]:
    """Run ``fn`` over a dataset without gradients and collect features and labels on the CPU.

    If ``fn`` is an ``nn.Module`` it is put in eval mode for the extraction and its previous mode
    is restored afterwards. Samples the dataset skips (``None``) are dropped; their number is logged.

    Args:
        fn: Maps a batch ``(B, *input_shape)`` to features ``(B, D)`` (or ``(B, ...)``, flattened).
        dataset: Dataset of dicts holding ``input_key`` and ``label_key``.
        batch_size: Batch size.
        num_workers: DataLoader workers.
        device: Where inputs are moved; default: the device of ``fn``'s first parameter, else CPU.
        input_key: Key of the model input in each sample.
        label_key: Key of the label (missing key gives labels -1).

    Returns:
        ``(features (N, D) float32, labels (N,) long)`` on the CPU, in dataset order, ``N`` = number
        of readable samples.
    """
    if device is None:
        params = list(fn.parameters()) if isinstance(fn, nn.Module) else []
        device = params[0].device if params else torch.device("cpu")
    was_training = fn.training if isinstance(fn, nn.Module) else False
    if isinstance(fn, nn.Module):
        fn.eval()
    loader: DataLoader[Any] = DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=collate_skip_none
    )
    feats: list[Tensor] = []
    labels: list[Tensor] = []
    skipped = 0
    try:
        for batch in loader:
            skipped += int(batch["num_skipped"])
            if input_key not in batch:  # every sample of the batch was skipped
                continue
            x = batch[input_key].to(device, non_blocking=True)
            f = fn(x)
            feats.append(f.reshape(f.shape[0], -1).float().cpu())
            y = batch.get(label_key)
            labels.append(
                y.long().cpu() if isinstance(y, Tensor) else torch.full((f.shape[0],), -1, dtype=torch.long)
            )
    finally:
        if isinstance(fn, nn.Module):
            fn.train(was_training)
    if skipped:
        logger.warning("extract_features: %d unreadable samples skipped", skipped)
    if not feats:
        raise ValueError("extract_features: the dataset yielded no readable sample")
    return torch.cat(feats), torch.cat(labels)
