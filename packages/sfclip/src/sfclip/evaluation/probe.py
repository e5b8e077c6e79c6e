"""Linear probe on frozen image features: core's grid-searched probe with ``BatchNorm1d(affine=False)``."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from sparse_core.eval import linear_probe

__all__ = ["bn_linear_probe"]


def bn_linear_probe(train_f: Tensor, train_y: Tensor, test_f: Tensor, test_y: Tensor, epochs: int = 100,
                    lrs: Sequence[float] = (1e-2, 1e-1, 1.0), num_classes: int | None = None,
                    seed: int = 0) -> dict[str, float]:
    """Test top-1 (%) of a linear classifier after a non-affine batch norm (MAE's probe), lr chosen on a split.

    Args:
        train_f: training features.
        train_y: training labels.
        test_f: test features.
        test_y: test labels.
        epochs: SGD epochs per run.
        lrs: learning-rate grid (selected on a held-out fifth of the training features).
        num_classes: C (default ``max(train_y) + 1``).
        seed: seed of the split, the initialisation and the shuffling.

    Returns:
        ``{"linear_top1": %, "linear_lr": chosen lr}``.

    Shape:
        train_f: (N, D); train_y: (N,); test_f: (M, D); test_y: (M,).
    """
    c = num_classes if num_classes is not None else int(max(train_y.max(), test_y.max())) + 1
    r = linear_probe(train_f, train_y, test_f, test_y, lrs=lrs, batch_sizes=(min(256, len(train_y)),),
                     epochs=epochs, use_bn=True, num_classes=c, seed=seed)
    return {"linear_top1": r["test_top1"], "linear_lr": r["best_lr"]}
