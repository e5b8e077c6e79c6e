"""Evaluation: feature extraction, DINO k-NN vs a brute-force loop, linear probe, low-shot subsets."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from sparse_core.data import SyntheticShapes
from sparse_core.eval import extract_features, knn_classify, knn_predict, linear_probe, low_shot_indices
from sparse_core.testing import torch_threads


def _knn_brute_force(train_f, train_y, test_f, k, T, C):  # type: ignore[no-untyped-def]
    """Reference: one test point at a time with Python loops."""
    preds = []
    for q in test_f:
        sims = []
        for j, x in enumerate(train_f):
            sims.append((float(q @ x / (q.norm() * x.norm())), j))
        sims.sort(reverse=True)
        votes = [0.0] * C
        for s, j in sims[:k]:
            votes[int(train_y[j])] += math.exp(s / T)
        preds.append(votes)
    return torch.tensor(preds, dtype=torch.float64)


def test_knn_matches_brute_force() -> None:
    g = torch.Generator().manual_seed(0)
    train_f, test_f = torch.randn(120, 16, generator=g), torch.randn(30, 16, generator=g)
    train_y = torch.randint(0, 5, (120,), generator=g)
    test_y = torch.randint(0, 5, (30,), generator=g)
    ref = _knn_brute_force(train_f.double(), train_y, test_f.double(), k=20, T=0.07, C=5)
    got = knn_predict(train_f, train_y, test_f, k=20, T=0.07, num_classes=5, chunk_size=7)
    torch.testing.assert_close(got.double(), ref, rtol=1e-4, atol=0.0)
    acc = knn_classify(train_f, train_y, test_f, test_y, k=20, T=0.07, num_classes=5)
    assert acc == pytest.approx(float((ref.argmax(1) == test_y).double().mean() * 100))
    # Features scaled per sample give the same result (cosine similarity).
    assert knn_classify(train_f * 7.0, train_y, test_f * 0.1, test_y, num_classes=5) == acc


def test_knn_perfect_on_clusters() -> None:
    g = torch.Generator().manual_seed(1)
    centers = torch.randn(4, 8, generator=g) * 5
    y = torch.arange(200) % 4
    f = centers[y] + 0.1 * torch.randn(200, 8, generator=g)
    assert knn_classify(f[:150], y[:150], f[150:], y[150:]) == 100.0


@pytest.fixture
def one_thread():  # type: ignore[no-untyped-def]
    """Tiny tensors: intra-op threads only add overhead (and oversubscribe a busy 2-core runner)."""
    with torch_threads(1):
        yield


def _separable(n: int, dim: int, classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(classes, dim, generator=torch.Generator().manual_seed(99))
    x = torch.randn(n, dim, generator=g) * 3 + 10.0  # offset and scale: BN helps
    y = (x @ w.T).argmax(1)
    return x, y


@pytest.mark.parametrize(
    ("optimizer", "use_bn", "lrs"), [("sgd", True, (0.01, 0.1)), ("adamw", False, (1e-2,))]
)
def test_linear_probe_learns_separable_data(
    optimizer: str, use_bn: bool, lrs: tuple[float, ...], one_thread: None
) -> None:
    xtr, ytr = _separable(600, 10, 3, seed=0)
    xte, yte = _separable(300, 10, 3, seed=1)
    res = linear_probe(
        xtr,
        ytr,
        xte,
        yte,
        lrs=lrs,
        batch_sizes=(64, 128),
        epochs=20,
        use_bn=use_bn,
        optimizer=optimizer,  # type: ignore[arg-type]
    )
    assert res["test_top1"] > 90.0
    assert len(res["grid"]) == len(lrs) * 2
    assert res["val_top1"] == max(r["val_top1"] for r in res["grid"])
    assert (res["best_lr"], res["best_batch_size"]) in {(r["lr"], r["batch_size"]) for r in res["grid"]}
    # Deterministic for a seed.
    again = linear_probe(
        xtr, ytr, xte, yte, lrs=lrs, batch_sizes=(64, 128), epochs=20, use_bn=use_bn, optimizer=optimizer
    )  # type: ignore[arg-type]
    assert again["test_top1"] == res["test_top1"]


def test_low_shot_indices_counts_and_seed() -> None:
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate([100, 50, 7, 3])])
    labels = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))]
    idx = low_shot_indices(labels, fraction=0.1, seed=0)
    counts = torch.bincount(labels[idx], minlength=4).tolist()
    assert counts == [10, 5, 1, 1]  # round(0.1 * n_c), at least one per class
    assert (
        idx.dtype == torch.long and torch.equal(idx, idx.sort().values) and len(set(idx.tolist())) == len(idx)
    )
    assert torch.equal(idx, low_shot_indices(labels, fraction=0.1, seed=0))
    assert not torch.equal(idx, low_shot_indices(labels, fraction=0.1, seed=1))
    assert torch.bincount(labels[low_shot_indices(labels, per_class=3, seed=2)]).tolist() == [3, 3, 3, 3]
    with pytest.raises(ValueError, match="fewer than per_class=4"):
        low_shot_indices(labels, per_class=4)
    with pytest.raises(ValueError, match="exactly one"):
        low_shot_indices(labels)


class _Dropping(Dataset):
    """Wraps shapes; sample 3 is unreadable."""

    def __init__(self) -> None:
        self.base = SyntheticShapes(10, image_size=16, seed=0)

    def __len__(self) -> int:
        return 10

    def __getitem__(self, i: int):  # type: ignore[no-untyped-def]
        return None if i == 3 else self.base[i]


def test_extract_features_eval_mode_no_grad_and_skips() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 8), nn.Dropout(0.9))
    model.train()
    feats, labels = extract_features(model, _Dropping(), batch_size=4)
    assert model.training  # mode restored
    assert feats.shape == (9, 8) and labels.tolist() == [i % 5 for i in range(10) if i != 3]
    assert not feats.requires_grad and feats.device.type == "cpu"
    # Eval mode: dropout off, so features equal a direct eval-mode forward.
    model.eval()
    with torch.no_grad():
        direct = model(torch.stack([_Dropping()[i]["image"] for i in range(10) if i != 3]))
    torch.testing.assert_close(feats, direct)
