"""One frozen-feature evaluation protocol: weighted k-NN, grid-searched linear probe, low-shot subsets.

The sequence (as reported by DINO, MAE, iBOT and the thesis' tables), on precomputed features:

1. ``knn``: DINO's weighted k-NN on the whole training set (:func:`~sparse_core.eval.knn.knn_classify`).
2. ``linear``: :func:`~sparse_core.eval.linear.linear_probe` (lr grid, selection on a held-out split of
   the training set) once per entry of ``linear_normalize`` (with / without ``BatchNorm1d`` before the
   linear layer); the normalisation with the best validation top-1 is reported (ties: the first).
3. ``lowshot``: for each fraction, a class-balanced subset of the training labels
   (:func:`~sparse_core.eval.lowshot.low_shot_indices`, seeded) and k-NN and / or the linear probe of
   step 2 trained on it, evaluated on the whole test set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from sparse_core.eval.knn import knn_classify
from sparse_core.eval.linear import linear_probe
from sparse_core.eval.lowshot import low_shot_indices

__all__ = ["ProtocolConfig", "linear_grid", "run_protocol"]


@dataclass
class ProtocolConfig:
    """Which steps of the protocol run and their hyper-parameters."""

    knn: bool = True
    """Run the weighted k-NN on the whole training set."""
    knn_k: int = 20
    """Neighbours of the k-NN (DINO: 20; clipped to the training set size)."""
    knn_temperature: float = 0.07
    """Temperature of the k-NN vote weights (DINO: 0.07)."""
    linear: bool = True
    """Run the linear probe on the whole training set."""
    linear_epochs: int = 100
    """Epochs of each linear probe run."""
    linear_lrs: list[float] = field(default_factory=lambda: [1e-3, 1e-2, 1e-1])
    """Learning-rate grid of the linear probe (SGD, cosine schedule)."""
    linear_batch_size: int = 256
    """Batch size of the linear probe (larger than the training set: one full batch)."""
    linear_normalize: list[bool] = field(default_factory=lambda: [True])
    """Normalisation grid: ``BatchNorm1d(D, affine=False)`` before the linear layer (True, MAE) or not."""
    low_shot_fractions: list[float] = field(default_factory=list)
    """Fractions of the training labels (per class) for the low-shot runs; empty: none."""
    low_shot_knn: bool = True
    """Run the k-NN on each low-shot subset."""
    low_shot_linear: bool = True
    """Run the linear probe on each low-shot subset."""
    seed: int = 0
    """Seed of the low-shot subsets and of the probes' splits, initialisations and shuffling."""


def linear_grid(
    train_f: Tensor,
    train_y: Tensor,
    test_f: Tensor,
    test_y: Tensor,
    cfg: ProtocolConfig,
    num_classes: int,
) -> dict[str, Any]:
    """Linear probe over ``cfg.linear_lrs`` x ``cfg.linear_normalize``, selected on validation top-1.

    Args:
        train_f: ``(N, D)`` training features.
        train_y: ``(N,)`` training labels.
        test_f: ``(M, D)`` test features.
        test_y: ``(M,)`` test labels.
        cfg: Protocol configuration (``linear_*`` and ``seed`` are used).
        num_classes: ``C``.

    Returns:
        ``{"top1": test %, "val_top1", "lr", "batch_size", "normalize": bool}`` of the best run.

    Raises:
        ValueError: An empty ``linear_normalize`` or ``linear_lrs``.
    """
    if not cfg.linear_normalize:
        raise ValueError("linear_normalize must hold at least one of True / False")
    # A batch larger than the training set trains exactly as one full batch; report the real size.
    batch_size = min(cfg.linear_batch_size, len(train_y))
    best: dict[str, Any] | None = None
    for use_bn in cfg.linear_normalize:
        r = linear_probe(
            train_f,
            train_y,
            test_f,
            test_y,
            lrs=cfg.linear_lrs,
            batch_sizes=(batch_size,),
            epochs=cfg.linear_epochs,
            use_bn=use_bn,
            num_classes=num_classes,
            seed=cfg.seed,
        )
        if best is None or r["val_top1"] > best["val_top1"]:
            best = {
                "top1": r["test_top1"],
                "val_top1": r["val_top1"],
                "lr": r["best_lr"],
                "batch_size": r["best_batch_size"],
                "normalize": bool(use_bn),
            }
    assert best is not None
    return best


def run_protocol(
    train_f: Tensor,
    train_y: Tensor,
    test_f: Tensor,
    test_y: Tensor,
    cfg: ProtocolConfig,
    num_classes: int | None = None,
) -> dict[str, Any]:
    """Run the protocol of the module docstring on precomputed features.

    Args:
        train_f: ``(N, D)`` training features.
        train_y: ``(N,)`` training labels in ``[0, C)``.
        test_f: ``(M, D)`` test features.
        test_y: ``(M,)`` test labels in ``[0, C)``.
        cfg: Steps and hyper-parameters.
        num_classes: ``C``; default ``max(train_y, test_y) + 1``.

    Returns:
        Top-1 accuracies in percent: ``"knn_top1"`` (if ``cfg.knn``), ``"linear"`` (if ``cfg.linear``,
        the dict of :func:`linear_grid`) and ``"lowshot"`` (if fractions are given):
        ``{fraction: {"knn_top1", "linear_top1"}}`` with the steps ``cfg.low_shot_*`` selects.
    """
    c = int(num_classes) if num_classes is not None else int(max(train_y.max(), test_y.max())) + 1

    def knn(f: Tensor, y: Tensor) -> float:
        return knn_classify(f, y, test_f, test_y, k=cfg.knn_k, T=cfg.knn_temperature, num_classes=c)

    out: dict[str, Any] = {}
    if cfg.knn:
        out["knn_top1"] = knn(train_f, train_y)
    if cfg.linear:
        out["linear"] = linear_grid(train_f, train_y, test_f, test_y, cfg, c)
    if cfg.low_shot_fractions:
        out["lowshot"] = {}
        for frac in cfg.low_shot_fractions:
            idx = low_shot_indices(train_y, fraction=frac, seed=cfg.seed)
            sub_f, sub_y = train_f[idx], train_y[idx]
            res: dict[str, float] = {}
            if cfg.low_shot_knn:
                res["knn_top1"] = knn(sub_f, sub_y)
            if cfg.low_shot_linear:
                res["linear_top1"] = linear_grid(sub_f, sub_y, test_f, test_y, cfg, c)["top1"]
            out["lowshot"][frac] = res
    return out
