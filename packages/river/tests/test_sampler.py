"""ODE sampling: exactness on known fields, warm start, fresh context per evaluation, rollouts."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from river_vp.flow.conditioning import ConditionSpec, context_range, official_condition_spec
from river_vp.flow.rollout import infill, predict_future
from river_vp.flow.sampler import SamplerConfig, integrate, sample_next_frame


def _linear(a: float):
    return lambda t, z: a * z


@pytest.mark.parametrize(
    "method,steps,tol",
    [("euler", 2000, 2e-3), ("midpoint", 50, 1e-4), ("rk4", 10, 1e-5), ("dopri5", 1, 1e-4)],
)
def test_linear_field_integrates_to_exponential(method: str, steps: int, tol: float) -> None:
    z0 = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    cfg = SamplerConfig(method=method, steps=steps, rtol=1e-7, atol=1e-9)
    out = integrate(_linear(-0.7), z0, 0.0, cfg)
    torch.testing.assert_close(out, z0 * math.exp(-0.7), rtol=tol, atol=tol)


def test_time_dependent_field_euler_matches_riemann_sum() -> None:
    z0 = torch.zeros(1, 1, 1, 1, dtype=torch.float64)
    out = integrate(lambda t, z: torch.ones_like(z) * 2 * t, z0, 0.0, SamplerConfig(steps=4))
    assert float(out) == pytest.approx(2 * (0 + 0.25 + 0.5 + 0.75) / 4)  # eq. 5.9 with t_i = i / N


class Spy:
    """A field that records its calls and returns a constant."""

    def __init__(self, value: float = 0.0) -> None:
        self.calls: list[tuple[float, Tensor, Tensor]] = []
        self.value = value

    def __call__(self, z: Tensor, t: Tensor, conds: Tensor, dists: Tensor) -> Tensor:
        self.calls.append((float(t[0]), conds.clone(), dists.clone()))
        return torch.full_like(z, self.value)


def _frames(m: int = 12, b: int = 2) -> Tensor:
    # frame i is filled with the value i, so condition indices can be read off the tensors
    return torch.arange(m, dtype=torch.float32).view(1, m, 1, 1, 1).expand(b, m, 2, 3, 3).clone()


def test_zero_field_returns_start() -> None:
    gen = torch.Generator().manual_seed(0)
    out = sample_next_frame(Spy(0.0), _frames(), 5, ConditionSpec(), SamplerConfig(steps=7), gen)
    expected = torch.randn(2, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("temperature", [0.0, 0.6])
def test_temperature_scales_the_start_noise_cold_and_warm(temperature: float) -> None:
    """z_0 = T eps (eq. 5.11 at T = 1); warm start: s z^{T-1} + (1 - s) T eps; T = 0 is deterministic."""
    frames = _frames()
    noise = torch.randn(2, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    cold = sample_next_frame(Spy(0.0), frames, 5, ConditionSpec(), SamplerConfig(steps=3, temperature=temperature),
                             torch.Generator().manual_seed(0))
    torch.testing.assert_close(cold, temperature * noise)
    warm = sample_next_frame(Spy(0.0), frames, 6, ConditionSpec(),
                             SamplerConfig(steps=10, warm_start=0.5, sigma_min=0.0, temperature=temperature),
                             torch.Generator().manual_seed(0))
    torch.testing.assert_close(warm, 0.5 * frames[:, 5] + 0.5 * temperature * noise)
    with pytest.raises(ValueError, match="temperature"):
        SamplerConfig(temperature=-0.1)


def test_warm_start_zero_equals_cold_start() -> None:
    frames = _frames()
    outs = []
    for s in (None, 0.0):
        torch.manual_seed(0)
        field = torch.nn.Conv2d(2, 2, 1)

        def f(z: Tensor, t: Tensor, conds: Tensor, dists: Tensor, field=field) -> Tensor:
            return field(z) + conds[:, 1] * 0.1 + t.view(-1, 1, 1, 1)

        cfg = SamplerConfig(steps=5) if s is None else SamplerConfig(steps=5, warm_start=s)
        outs.append(sample_next_frame(f, frames, 6, ConditionSpec(), cfg, torch.Generator().manual_seed(3)))
    torch.testing.assert_close(outs[0], outs[1])


def test_warm_start_starts_on_the_path_and_uses_fewer_steps() -> None:
    spy = Spy(0.0)
    frames = _frames()
    out = sample_next_frame(
        spy,
        frames,
        6,
        ConditionSpec(),
        SamplerConfig(steps=10, warm_start=0.5, sigma_min=0.0),
        torch.Generator().manual_seed(0),
    )
    noise = torch.randn(2, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, 0.5 * frames[:, 5] + 0.5 * noise)
    assert len(spy.calls) == 5 and spy.calls[0][0] == pytest.approx(0.5)


@pytest.mark.parametrize("window", [None, 3])
def test_fresh_context_at_every_evaluation_within_window(window: int | None) -> None:
    spy = Spy(0.0)
    tau = 10
    sample_next_frame(
        spy,
        _frames(),
        tau,
        ConditionSpec(window=window),
        SamplerConfig(steps=200),
        torch.Generator().manual_seed(0),
    )
    refs = {float(c[0, 0, 0, 0, 0]) for _, c, _ in spy.calls}
    ctxs = [int(c[0, 1, 0, 0, 0]) for _, c, _ in spy.calls]
    assert refs == {tau - 1}
    lo = 0 if window is None else tau - 1 - window
    assert min(ctxs) == lo and max(ctxs) == tau - 2  # all allowed frames get used, none outside
    assert all(int(d[0, 1]) == tau - c for (_, _, d), c in zip(spy.calls, ctxs, strict=True))


def test_thesis_form_shares_one_context_index_across_the_batch() -> None:
    spy = Spy(0.0)
    sample_next_frame(spy, _frames(m=12, b=8), 10, ConditionSpec(), SamplerConfig(steps=20))
    for _, conds, dists in spy.calls:
        assert conds[:, 1, 0, 0, 0].unique().numel() == 1 and dists[:, 1].unique().numel() == 1


@pytest.mark.parametrize("window", [None, 3])
def test_official_form_draws_a_context_per_sample_at_every_evaluation(window: int | None) -> None:
    spy = Spy(0.0)
    tau, b, steps = 10, 16, 30
    frames = _frames(m=12, b=b)
    sample_next_frame(
        spy, frames, tau, official_condition_spec(window), SamplerConfig(steps=steps), torch.Generator().manual_seed(0)
    )
    # the direct replay of the seeded generator: the initial noise, then B context indices per NFE
    g = torch.Generator().manual_seed(0)
    torch.randn((b, 2, 3, 3), generator=g)
    lo, hi = context_range(tau, window)
    assert len(spy.calls) == steps
    for _, conds, dists in spy.calls:
        ctx = torch.randint(lo, hi + 1, (b,), generator=g)
        assert (conds[:, 0, 0, 0, 0] == tau - 1).all() and (dists[:, 0] == 1).all()
        torch.testing.assert_close(conds[:, 1, 0, 0, 0].long(), ctx)
        torch.testing.assert_close(dists[:, 1], tau - 1 - ctx)  # reference - context
    assert any(c[:, 1, 0, 0, 0].unique().numel() > 1 for _, c, _ in spy.calls)


def test_predict_future_and_samples() -> None:
    spy = Spy(1.0)
    ctx = torch.randn(2, 3, 2, 3, 3)
    out = predict_future(
        spy, ctx, 4, ConditionSpec(), SamplerConfig(steps=2), torch.Generator().manual_seed(0), num_samples=3
    )
    assert out.shape == (6, 7, 2, 3, 3)
    torch.testing.assert_close(out[:3, :3], ctx[:1].expand(3, -1, -1, -1, -1))
    assert len(spy.calls) == 4 * 2
    assert not torch.allclose(out[0, 3:], out[1, 3:])  # independent noise per sample


def test_infill_conditions_on_goal() -> None:
    spy = Spy(0.0)
    src, goal = torch.zeros(1, 2, 3, 3), torch.full((1, 2, 3, 3), 7.0)
    out = infill(spy, src, goal, 3, SamplerConfig(steps=2))
    assert out.shape == (1, 5, 2, 3, 3)
    assert all(float(c[0, 1, 0, 0, 0]) == 7.0 for _, c, _ in spy.calls)
