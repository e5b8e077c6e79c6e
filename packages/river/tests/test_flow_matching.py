"""Probability path and target field of eq. 5.6, and the loss of eq. 5.8, against direct formulas."""

from __future__ import annotations

import pytest
import torch

from river_vp.flow.matching import conditional_path, flow_matching_loss, target_field, target_field_from_noise


@pytest.mark.parametrize("sigma_min", [1e-7, 1e-2, 0.5])
def test_path_and_field_match_eq_5_6(sigma_min: float) -> None:
    z1, z0 = torch.randn(5, 4, 3, 3, dtype=torch.float64), torch.randn(5, 4, 3, 3, dtype=torch.float64)
    t = torch.rand(5, dtype=torch.float64) * 0.98
    z = conditional_path(z1, z0, t, sigma_min)
    for i in range(5):
        ti = float(t[i])
        mu, sd = ti * z1[i], 1 - (1 - sigma_min) * ti
        torch.testing.assert_close(z[i], mu + sd * z0[i])
        u = (z1[i] - (1 - sigma_min) * z[i]) / (1 - (1 - sigma_min) * ti)  # eq. 5.6 written out
        torch.testing.assert_close(target_field(z, z1, t, sigma_min)[i], u)
        torch.testing.assert_close(target_field_from_noise(z0, z1, sigma_min)[i], u)


def test_field_is_time_derivative_of_path() -> None:
    z1, z0 = torch.randn(2, 3, 2, 2, dtype=torch.float64), torch.randn(2, 3, 2, 2, dtype=torch.float64)
    t, h, s = 0.37, 1e-6, 1e-3
    fd = (conditional_path(z1, z0, t + h, s) - conditional_path(z1, z0, t - h, s)) / (2 * h)
    torch.testing.assert_close(fd, target_field_from_noise(z0, z1, s), rtol=1e-6, atol=1e-6)


def test_sigma_min_edge_cases() -> None:
    z1, z0 = torch.randn(3, 2, 2, 2), torch.randn(3, 2, 2, 2)
    # t = 0: pure noise whatever sigma_min
    torch.testing.assert_close(conditional_path(z1, z0, 0.0, 0.3), z0)
    # t = 1, sigma_min = 0: exactly the data; the closed-form target is finite there
    torch.testing.assert_close(conditional_path(z1, z0, 1.0, 0.0), z1)
    assert torch.isfinite(target_field_from_noise(z0, z1, 0.0)).all()
    # t = 1, sigma_min > 0: data plus sigma_min noise
    torch.testing.assert_close(conditional_path(z1, z0, 1.0, 0.1), z1 + 0.1 * z0)
    # sigma_min = 1: the noise scale stays 1 and the field is z1 at any point
    z = torch.randn_like(z1)
    torch.testing.assert_close(target_field(z, z1, torch.rand(3), 1.0), z1)


def test_loss_is_mean_squared_error() -> None:
    a, b = torch.randn(4, 3, 5, 5), torch.randn(4, 3, 5, 5)
    assert torch.isclose(flow_matching_loss(a, b), ((a - b) ** 2).sum() / a.numel())


def test_field_of_a_data_prediction_is_eq_5_6_towards_it_and_euler_lands_on_it() -> None:
    """v = (z1_hat - (1 - s) z) / max(1 - (1 - s) t, 0.05): eq. 5.6 written out, the clip only near t = 1; N Euler
    steps of the field of a constant prediction end on the prediction (sigma_min = 0)."""
    from river_vp.flow.matching import MIN_SIGMA_T, field_from_data

    z, z1 = torch.randn(4, 3, 2, 2, dtype=torch.float64), torch.randn(4, 3, 2, 2, dtype=torch.float64)
    s = 1e-3
    t = torch.tensor([0.0, 0.3, 0.9, 0.99], dtype=torch.float64)
    v = field_from_data(z, z1, t, s)
    for i, ti in enumerate(t.tolist()):
        denom = max(1 - (1 - s) * ti, MIN_SIGMA_T)
        torch.testing.assert_close(v[i], (z1[i] - (1 - s) * z[i]) / denom)
    torch.testing.assert_close(v[:3], target_field(z, z1, t, s)[:3])  # unclipped there
    assert not torch.allclose(v[3], target_field(z, z1, t, s)[3])  # 1 - t = 0.01 < 0.05: clipped
    x = torch.randn(4, 3, 2, 2, dtype=torch.float64)
    for i in range(10):
        x = x + 0.1 * field_from_data(x, z1, i / 10, 0.0)
    torch.testing.assert_close(x, z1)
