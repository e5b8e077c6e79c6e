"""NT-Xent against a loop over anchors with plain Python floats (SimCLR, Chen et al., 2020, eq. 1)."""

from __future__ import annotations

import math

import pytest
import torch

from sparse_core.losses import nt_xent

DT = torch.float64


def _unit(v: list[float]) -> list[float]:
    n = math.sqrt(sum(a * a for a in v))
    return [a / n for a in v]


def _reference(z1: torch.Tensor, z2: torch.Tensor, tau: float) -> float:
    """Mean over the 2B anchors of -log(exp(s_ij / tau) / sum_{k != i} exp(s_ik / tau))."""
    z = [_unit(r) for r in torch.cat([z1, z2]).tolist()]
    n, b = len(z), z1.shape[0]
    total = 0.0
    for i in range(n):
        j = (i + b) % n  # the other view of the same sample
        sims = {k: sum(x * y for x, y in zip(z[i], z[k])) / tau for k in range(n) if k != i}
        total += -sims[j] + math.log(sum(math.exp(s) for s in sims.values()))
    return total / n


@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_nt_xent_matches_the_direct_formula(tau: float) -> None:
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 4, generator=g, dtype=DT), torch.randn(5, 4, generator=g, dtype=DT)
    assert nt_xent(z1, z2, tau).item() == pytest.approx(_reference(z1, z2, tau), rel=1e-6)


def test_nt_xent_is_symmetric_in_the_views_and_scale_invariant() -> None:
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(4, 3, generator=g, dtype=DT), torch.randn(4, 3, generator=g, dtype=DT)
    torch.testing.assert_close(nt_xent(z1, z2, 0.2), nt_xent(z2, z1, 0.2))
    torch.testing.assert_close(nt_xent(3 * z1, 0.5 * z2, 0.2), nt_xent(z1, z2, 0.2))


def test_nt_xent_gradient_pulls_positives_together() -> None:
    g = torch.Generator().manual_seed(2)
    z1 = torch.randn(6, 8, generator=g, dtype=DT, requires_grad=True)
    z2 = torch.randn(6, 8, generator=g, dtype=DT)
    before = torch.nn.functional.cosine_similarity(z1, z2).mean()
    opt = torch.optim.SGD([z1], lr=0.5)
    for _ in range(20):
        opt.zero_grad()
        nt_xent(z1, z2, 0.2).backward()
        opt.step()
    assert torch.nn.functional.cosine_similarity(z1, z2).mean() > before + 0.3
