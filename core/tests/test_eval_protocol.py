"""The evaluation protocol against direct calls of its parts, and the attentive probe."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from sparse_core.eval import (
    AttentiveProbe,
    ProtocolConfig,
    knn_classify,
    linear_grid,
    linear_probe,
    low_shot_indices,
    run_protocol,
    train_attentive_probe,
)
from sparse_core.testing import torch_threads


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny tensors: intra-op threads only add overhead."""
    with torch_threads(1):
        yield


def _clusters(n: int, seed: int, classes: int = 4, dim: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    centers = torch.randn(classes, dim, generator=torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    return centers[y] + 1.2 * torch.randn(n, dim, generator=g), y


def test_run_protocol_equals_its_parts() -> None:
    (xtr, ytr), (xte, yte) = _clusters(150, 0), _clusters(60, 1)
    cfg = ProtocolConfig(knn_k=10, knn_temperature=0.1, linear_epochs=5, linear_lrs=[0.01, 0.1],
                         linear_normalize=[False, True], low_shot_fractions=[0.2, 1.0], seed=3)
    res = run_protocol(xtr, ytr, xte, yte, cfg, num_classes=4)
    assert res["knn_top1"] == knn_classify(xtr, ytr, xte, yte, k=10, T=0.1, num_classes=4)
    runs = {bn: linear_probe(xtr, ytr, xte, yte, lrs=(0.01, 0.1), batch_sizes=(150,), epochs=5, use_bn=bn,
                             num_classes=4, seed=3) for bn in (False, True)}
    best = max((False, True), key=lambda bn: (runs[bn]["val_top1"], not bn))  # ties: the first (False)
    assert res["linear"] == {"top1": runs[best]["test_top1"], "val_top1": runs[best]["val_top1"],
                             "lr": runs[best]["best_lr"], "batch_size": 150, "normalize": best}
    assert set(res["lowshot"]) == {0.2, 1.0}
    idx = low_shot_indices(ytr, fraction=0.2, seed=3)
    assert res["lowshot"][0.2]["knn_top1"] == knn_classify(xtr[idx], ytr[idx], xte, yte, k=10, T=0.1,
                                                           num_classes=4)
    assert res["lowshot"][0.2]["linear_top1"] == linear_grid(xtr[idx], ytr[idx], xte, yte, cfg, 4)["top1"]
    assert res["lowshot"][1.0]["linear_top1"] == res["linear"]["top1"]  # the whole set is the whole set


def test_run_protocol_selects_steps_and_infers_classes() -> None:
    (xtr, ytr), (xte, yte) = _clusters(80, 0), _clusters(40, 1)
    cfg = ProtocolConfig(linear=False, low_shot_fractions=[0.5], low_shot_knn=False, linear_epochs=2)
    res = run_protocol(xtr, ytr, xte, yte, cfg)
    assert set(res) == {"knn_top1", "lowshot"} and set(res["lowshot"][0.5]) == {"linear_top1"}
    # C = max label of train and test + 1: a class seen only in the test set still counts
    yte2 = yte.clone()
    yte2[0] = 6
    only_knn = ProtocolConfig(linear=False)
    assert run_protocol(xtr, ytr, xte, yte2, only_knn)["knn_top1"] == knn_classify(xtr, ytr, xte, yte2,
                                                                                    num_classes=7)
    with pytest.raises(ValueError, match="linear_normalize"):
        linear_grid(xtr, ytr, xte, yte, ProtocolConfig(linear_normalize=[]), 4)


def test_attentive_probe_learns_which_token_matters() -> None:
    g = torch.Generator().manual_seed(0)
    # class = which of 3 directions the one informative token points along; the other tokens are noise
    dirs = torch.eye(8)[:3] * 4

    def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, 3, (n,), generator=g)
        tokens = torch.randn(n, 6, 8, generator=g)
        pos = torch.randint(0, 6, (n,), generator=g)
        tokens[torch.arange(n), pos] += dirs[y]
        return tokens, y

    (xtr, ytr), (xte, yte) = make(240), make(120)
    rng = torch.get_rng_state()
    res = train_attentive_probe(xtr, ytr, xte.half(), yte, 3, epochs=25, lr=3e-3, seed=1)
    assert torch.equal(rng, torch.get_rng_state())  # the global RNG is left alone
    assert isinstance(res["model"], AttentiveProbe) and not res["model"].training
    assert res["test_top1"] > 85.0
    with torch.no_grad():
        pred = res["model"](xte.half().float()).argmax(1)
    assert res["test_top1"] == float((pred == yte).float().mean() * 100)
    again = train_attentive_probe(xtr, ytr, xte.half(), yte, 3, epochs=25, lr=3e-3, seed=1)
    assert again["test_top1"] == res["test_top1"]
    assert AttentiveProbe(8, 3, num_heads=2)(xtr[:5]).shape == (5, 3)
