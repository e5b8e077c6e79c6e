"""PSNR / SSIM against a direct formula, scikit-image and torchmetrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sparse_core.eval.metrics import psnr, ssim


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 3, 32, 32, generator=g)
    b = (a + 0.1 * torch.randn(3, 3, 32, 32, generator=g)).clamp(0, 1)
    return a, b


def test_psnr_formula() -> None:
    a, b = _pair()
    mse = ((a - b) ** 2).mean(dim=(1, 2, 3))
    torch.testing.assert_close(psnr(b, a), 10 * torch.log10(1 / mse), rtol=1e-5, atol=1e-5)


def test_psnr_uint8_video_matches_scikit_image() -> None:
    skm = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, size=(4, 12, 10, 3), dtype=np.uint8)
    rec = np.clip(ref.astype(np.int16) + rng.integers(-9, 10, size=ref.shape), 0, 255).astype(np.uint8)
    got = float(psnr(torch.from_numpy(rec), torch.from_numpy(ref), data_range=255.0, dim=None))
    assert got == pytest.approx(skm.peak_signal_noise_ratio(ref, rec, data_range=255), rel=1e-6)
    per_frame = psnr(torch.from_numpy(rec), torch.from_numpy(ref), data_range=255.0, dim=(1, 2, 3))
    assert per_frame.shape == (4,)
    for t in range(4):
        assert float(per_frame[t]) == pytest.approx(skm.peak_signal_noise_ratio(ref[t], rec[t], data_range=255))


def test_psnr_identical_inputs_floor_or_inf() -> None:
    a, _ = _pair()
    assert torch.allclose(psnr(a, a), torch.full((3,), 200.0))  # MSE floored at 1e-20
    assert math.isinf(float(psnr(a, a, dim=None, min_mse=0.0)))
    assert float(psnr(a * 255, a * 255, data_range=255.0, dim=None)) == pytest.approx(200 + 20 * math.log10(255))


def test_ssim_matches_scikit_image() -> None:
    skm = pytest.importorskip("skimage.metrics")
    a, b = _pair()
    ours = ssim(b, a)
    for i in range(3):
        ref = skm.structural_similarity(
            a[i].permute(1, 2, 0).numpy(),
            b[i].permute(1, 2, 0).numpy(),
            data_range=1.0,
            channel_axis=2,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        assert float(ours[i]) == pytest.approx(ref, abs=1e-5)
    assert float(ssim(a, a).mean()) == pytest.approx(1.0, abs=1e-6)
    # leading dims are kept and broadcasting works (one target for two predictions)
    assert ssim(torch.stack([b, a]), a).shape == (2, 3)


def test_psnr_ssim_match_torchmetrics() -> None:
    tm = pytest.importorskip("torchmetrics.functional.image")
    a, b = _pair()
    for i in range(3):
        ref_p = tm.peak_signal_noise_ratio(b[i : i + 1], a[i : i + 1], data_range=1.0)
        assert float(psnr(b[i], a[i])) == pytest.approx(float(ref_p), abs=1e-4)
        ref_s = tm.structural_similarity_index_measure(
            b[i : i + 1].double(), a[i : i + 1].double(), data_range=1.0
        )
        # torchmetrics pads reflectively and averages over all positions; skimage crops: close, not equal
        assert float(ssim(b[i], a[i])) == pytest.approx(float(ref_s), abs=2e-2)
