"""Weighted k-NN classifier on frozen features, as in DINO (Caron et al., 2021)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


@torch.no_grad()
def knn_predict(
    train_f: Tensor,
    train_y: Tensor,
    test_f: Tensor,
    k: int = 20,
    T: float = 0.07,
    num_classes: int | None = None,
    chunk_size: int = 1024,
) -> Tensor:
    """Class scores of DINO's weighted k-NN.

    Features are L2-normalised; for each test point the ``k`` training points with the highest
    cosine similarity ``s`` vote for their class with weight ``exp(s / T)``.

    Args:
        train_f: ``(N, D)`` training features.
        train_y: ``(N,)`` long training labels in ``[0, C)``.
        test_f: ``(M, D)`` test features.
        k: Neighbours (clipped to ``N``).
        T: Temperature.
        num_classes: ``C``; default ``train_y.max() + 1``.
        chunk_size: Test points per similarity block (memory ``chunk_size x N``).

    Returns:
        ``(M, C)`` summed vote weights.
    """
    C = int(num_classes) if num_classes is not None else int(train_y.max()) + 1
    k = min(k, train_f.shape[0])
    train_n = F.normalize(train_f.float(), dim=1)  # (N, D)
    test_n = F.normalize(test_f.float().to(train_n.device), dim=1)  # (M, D)
    y = train_y.to(train_n.device).long()
    scores = []
    for start in range(0, test_n.shape[0], chunk_size):
        sim = test_n[start : start + chunk_size] @ train_n.T  # (m, N)
        top_sim, top_idx = sim.topk(k, dim=1)  # (m, k)
        weights = (top_sim / T).exp()  # (m, k)
        onehot = F.one_hot(y[top_idx], C).to(weights.dtype)  # (m, k, C)
        scores.append((onehot * weights.unsqueeze(-1)).sum(dim=1))  # (m, C)
    return torch.cat(scores)


def knn_classify(
    train_f: Tensor,
    train_y: Tensor,
    test_f: Tensor,
    test_y: Tensor,
    k: int = 20,
    T: float = 0.07,
    num_classes: int | None = None,
    chunk_size: int = 1024,
) -> float:
    """Top-1 accuracy (percent) of DINO's weighted k-NN (see :func:`knn_predict`).

    Args:
        train_f: ``(N, D)`` training features.
        train_y: ``(N,)`` training labels.
        test_f: ``(M, D)`` test features.
        test_y: ``(M,)`` test labels.
        k: Neighbours (DINO: 20).
        T: Temperature (DINO: 0.07).
        num_classes: ``C``; default ``train_y.max() + 1``.
        chunk_size: Test points per similarity block.

    Returns:
        Top-1 accuracy in ``[0, 100]``.
    """
    scores = knn_predict(train_f, train_y, test_f, k=k, T=T, num_classes=num_classes, chunk_size=chunk_size)
    pred = scores.argmax(dim=1).cpu()
    return float((pred == test_y.cpu().long()).float().mean().item() * 100.0)
