"""Choice of target / reference / context frames (Algorithm 1, eq. 5.10, Table 5.4)."""

from __future__ import annotations

import pytest
import torch

from river_vp.flow.conditioning import (
    ConditionSpec,
    context_range,
    sample_context_indices,
    sample_training_indices,
)


def test_training_indices_in_range_and_uniform() -> None:
    gen = torch.Generator().manual_seed(0)
    spec = ConditionSpec()
    m = 10
    counts = torch.zeros(m)
    for _ in range(3000):
        tau, idx, dist = sample_training_indices(m, spec, gen)
        assert 2 <= tau <= m - 1
        ref, c = idx
        assert ref == tau - 1 and 0 <= c <= tau - 2
        assert dist == [1, tau - c]
        if tau == 9:
            counts[c] += 1
    # context of tau = 9 is uniform over {0..7}
    freq = counts[:8] / counts[:8].sum()
    assert counts[8:].sum() == 0
    assert (freq - 1 / 8).abs().max() < 0.06


def test_deterministic_with_seed() -> None:
    def draws(seed: int) -> list:
        g = torch.Generator().manual_seed(seed)
        return [sample_training_indices(16, ConditionSpec(), g) for _ in range(20)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)


@pytest.mark.parametrize("window", [1, 2, 4, 6])
def test_context_window_is_enforced(window: int) -> None:
    gen = torch.Generator().manual_seed(1)
    spec = ConditionSpec(window=window)
    for tau in range(2, 30):
        lo, hi = context_range(tau, window)
        assert hi == tau - 2 and lo == max(0, tau - 1 - window)  # thesis: {tau-1-k, ..., tau-2}
        for _ in range(20):
            idx, dist = sample_context_indices(tau, spec, gen)
            assert lo <= idx[1] <= hi and 2 <= dist[1] <= window + 1


def test_first_prediction_from_one_frame_uses_reference_as_context() -> None:
    idx, dist = sample_context_indices(1, ConditionSpec())
    assert idx == [0, 0] and dist == [1, 1]


def test_no_ref_and_interp_modes() -> None:
    gen = torch.Generator().manual_seed(2)
    for _ in range(200):
        tau, idx, dist = sample_training_indices(8, ConditionSpec(mode="no_ref", min_target=1), gen)
        assert len(idx) == 1 and 0 <= idx[0] <= tau - 1
        tau, idx, dist = sample_training_indices(8, ConditionSpec(mode="interp"), gen)
        assert 0 <= idx[0] < tau < idx[1] <= 7 and dist[0] > 0 > dist[1]
    idx, _ = sample_context_indices(3, ConditionSpec(mode="interp"), gen, future_index=9)
    assert idx[1] == 9


def test_invalid_specs() -> None:
    with pytest.raises(ValueError):
        ConditionSpec(mode="all")
    with pytest.raises(ValueError):
        ConditionSpec(window=0)
    with pytest.raises(ValueError):
        sample_training_indices(2, ConditionSpec())
