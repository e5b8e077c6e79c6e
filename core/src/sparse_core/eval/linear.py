"""Linear probe on precomputed frozen features, with a small hyper-parameter grid.

Protocol (documented choice, close to DINO / MAE linear eval on cached features):

1. A stratified held-out split (``val_fraction`` of each class, seeded) is taken from the training
   features; the test set is never used for selection.
2. For every ``(lr, batch_size)`` in the grid a fresh classifier
   ``[BatchNorm1d(D, affine=False)] -> Linear(D, C)`` (weight ~ N(0, 0.01), bias 0, as MAE) is trained
   for ``epochs`` epochs with SGD (momentum 0.9) or AdamW and a cosine learning-rate schedule; the
   last-epoch validation top-1 is recorded.
3. The best pair is retrained on the whole training set and evaluated once on the test set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _stratified_split(y: Tensor, val_fraction: float, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Return ``(train_idx, val_idx)``, ``val_fraction`` of every class (at least 1 if it has 2+)."""
    tr, va = [], []
    for c in torch.unique(y).tolist():
        idx = (y == c).nonzero(as_tuple=True)[0]
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_val = min(len(idx) - 1, max(1, round(val_fraction * len(idx)))) if len(idx) > 1 else 0
        va.append(idx[:n_val])
        tr.append(idx[n_val:])
    return torch.cat(tr), torch.cat(va)


def _make_classifier(dim: int, num_classes: int, use_bn: bool, g: torch.Generator) -> nn.Module:
    linear = nn.Linear(dim, num_classes)
    with torch.no_grad():
        nn.init.normal_(linear.weight, std=0.01, generator=g)
        linear.bias.zero_()
    return nn.Sequential(nn.BatchNorm1d(dim, affine=False), linear) if use_bn else linear


def _train(
    x: Tensor,
    y: Tensor,
    num_classes: int,
    lr: float,
    batch_size: int,
    epochs: int,
    use_bn: bool,
    optimizer: str,
    weight_decay: float,
    seed: int,
) -> nn.Module:
    """Train one linear classifier on ``x (N, D)``, ``y (N,)``."""
    g = torch.Generator().manual_seed(seed)
    model = _make_classifier(x.shape[1], num_classes, use_bn, g).to(x.device)
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay
        )
    elif optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {optimizer!r}")
    n = x.shape[0]
    steps_per_epoch = max(1, math.ceil(n / batch_size))
    total = epochs * steps_per_epoch
    step = 0
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g).to(x.device)
        for i in range(steps_per_epoch):
            idx = perm[i * batch_size : (i + 1) * batch_size]
            if use_bn and len(idx) < 2:  # BatchNorm cannot train on a single sample
                continue
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * step / total))
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    return model.eval()


@torch.no_grad()
def _top1(model: nn.Module, x: Tensor, y: Tensor) -> float:
    if len(y) == 0:
        return float("nan")
    return float((model(x).argmax(1) == y).float().mean().item() * 100.0)


def linear_probe(
    train_f: Tensor,
    train_y: Tensor,
    test_f: Tensor,
    test_y: Tensor,
    lrs: Sequence[float] = (1e-3, 1e-2, 1e-1),
    batch_sizes: Sequence[int] = (256,),
    epochs: int = 100,
    use_bn: bool = True,
    optimizer: Literal["sgd", "adamw"] = "sgd",
    weight_decay: float = 0.0,
    val_fraction: float = 0.2,
    num_classes: int | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> dict[str, Any]:
    """Grid-searched linear probe on frozen features (protocol in the module docstring).

    Args:
        train_f: ``(N, D)`` training features.
        train_y: ``(N,)`` training labels in ``[0, C)``.
        test_f: ``(M, D)`` test features.
        test_y: ``(M,)`` test labels.
        lrs: Learning rates to try (for SGD, MAE-style probes use larger values with BN).
        batch_sizes: Batch sizes to try.
        epochs: Epochs per run.
        use_bn: Put ``BatchNorm1d(D, affine=False)`` before the linear layer (MAE).
        optimizer: ``"sgd"`` (momentum 0.9) or ``"adamw"``.
        weight_decay: Weight decay.
        val_fraction: Per-class fraction of the training set held out for selection.
        num_classes: ``C``; default ``max(train_y) + 1``.
        seed: Seeds the split, the initialisation and the shuffling (local generators only).
        device: Where to train; default the features' device.

    Returns:
        ``{"test_top1": float, "val_top1": float (best), "best_lr": float, "best_batch_size": int,
        "grid": [{"lr", "batch_size", "val_top1"}, ...], "model": nn.Module (retrained, on CPU)}``.
    """
    if not lrs or not batch_sizes:
        raise ValueError("lrs and batch_sizes must be non-empty")
    dev = torch.device(device) if device is not None else train_f.device
    xtr, ytr = train_f.float().to(dev), train_y.long().to(dev)
    xte, yte = test_f.float().to(dev), test_y.long().to(dev)
    C = int(num_classes) if num_classes is not None else int(ytr.max()) + 1
    g = torch.Generator().manual_seed(seed)
    tr_idx, va_idx = _stratified_split(ytr.cpu(), val_fraction, g)
    tr_idx, va_idx = tr_idx.to(dev), va_idx.to(dev)
    grid: list[dict[str, Any]] = []
    for lr in lrs:
        for bs in batch_sizes:
            m = _train(xtr[tr_idx], ytr[tr_idx], C, lr, bs, epochs, use_bn, optimizer, weight_decay, seed)
            grid.append(
                {"lr": float(lr), "batch_size": int(bs), "val_top1": _top1(m, xtr[va_idx], ytr[va_idx])}
            )
    # Ties go to the first grid entry (smallest lr, then smallest batch size, in the given order).
    best = max(grid, key=lambda r: -1.0 if math.isnan(r["val_top1"]) else r["val_top1"])
    best_lr, best_bs = float(best["lr"]), int(best["batch_size"])
    model = _train(xtr, ytr, C, best_lr, best_bs, epochs, use_bn, optimizer, weight_decay, seed)
    return {
        "test_top1": _top1(model, xte, yte),
        "val_top1": best["val_top1"],
        "best_lr": best_lr,
        "best_batch_size": best_bs,
        "grid": grid,
        "model": model.cpu(),
    }
