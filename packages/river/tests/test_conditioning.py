"""Choice of target / reference / context frames (Algorithm 1, eq. 5.10, Table 5.4)."""

from __future__ import annotations

import pytest
import torch

from river_vp.flow.conditioning import (
    OFFICIAL_FORM,
    ConditionSpec,
    context_range,
    official_condition_spec,
    sample_context_batch,
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


def _direct_distance(tau: int, c: int, form: str) -> int:
    """The two encodings written out: thesis eq. 5.10 ``tau - c``; official RIVER ``reference - context``,
    where a single given frame is duplicated (so distance 1 at tau = 1)."""
    if form == "thesis":
        return tau - c
    return (tau - 1) - c if tau >= 2 else 1


@pytest.mark.parametrize("form", ["thesis", "official"])
@pytest.mark.parametrize("window", [None, 3])
def test_distances_of_both_forms_match_the_direct_formula(form: str, window: int | None) -> None:
    gen = torch.Generator().manual_seed(5)
    spec = ConditionSpec(window=window, form=form)
    for tau in range(1, 16):
        for _ in range(10):
            idx, dist = sample_context_indices(tau, spec, gen)
            assert idx[0] == tau - 1
            assert dist == [1, _direct_distance(tau, idx[1], form)]
    for _ in range(300):
        tau, idx, dist = sample_training_indices(10, spec, gen)
        assert dist == [1, _direct_distance(tau, idx[1], form)]
        if form == "official":
            assert 1 <= dist[1] == tau - 1 - idx[1]  # training targets start at 2: never the duplicate case


def test_official_form_draws_the_same_frames_as_the_thesis_form() -> None:
    """Only the distances differ: the same seed gives the same targets and contexts in both forms."""
    def draws(form: str) -> list:
        g = torch.Generator().manual_seed(11)
        return [sample_training_indices(12, ConditionSpec(form=form), g)[:2] for _ in range(50)]

    assert draws("thesis") == draws("official")


@pytest.mark.parametrize("form", ["thesis", "official"])
def test_per_sample_context_draws(form: str) -> None:
    spec = ConditionSpec(window=5, form=form)
    tau, b = 9, 256
    idx, dist = sample_context_batch(tau, spec, b, torch.Generator().manual_seed(3))
    assert idx.shape == dist.shape == (b, 2) and idx.dtype == dist.dtype == torch.long
    assert (idx[:, 0] == tau - 1).all()
    lo, hi = context_range(tau, 5)
    # one draw per sample from the seeded generator, in order
    expected = torch.randint(lo, hi + 1, (b,), generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(idx[:, 1], expected)
    assert set(idx[:, 1].tolist()) == set(range(lo, hi + 1))  # samples differ, every allowed frame is used
    assert dist[:, 0].tolist() == [1] * b
    assert dist[:, 1].tolist() == [_direct_distance(tau, c, form) for c in idx[:, 1].tolist()]
    one, d1 = sample_context_batch(1, spec, 4)
    assert one.tolist() == [[0, 0]] * 4 and d1.tolist() == [[1, 1]] * 4
    with pytest.raises(ValueError, match="interp"):
        sample_context_batch(3, ConditionSpec(mode="interp"), 4)


def test_official_spec_and_invalid_forms() -> None:
    spec = official_condition_spec(window=4)
    assert (spec.mode, spec.window, spec.min_target, spec.form) == ("river", 4, 2, OFFICIAL_FORM)
    assert ConditionSpec().form == "thesis"
    with pytest.raises(ValueError, match="form"):
        ConditionSpec(form="paper")
    with pytest.raises(ValueError, match="river"):
        ConditionSpec(mode="no_ref", form="official")
