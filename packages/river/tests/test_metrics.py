"""PSNR / SSIM against scikit-image and torchmetrics; Fréchet distance against a direct NumPy computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from river_vp.metrics.fvd import I3DFeatures, frechet_distance, fvd_from_features
from river_vp.metrics.image import psnr, ssim


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 3, 32, 32, generator=g)
    b = (a + 0.1 * torch.randn(3, 3, 32, 32, generator=g)).clamp(0, 1)
    return a, b


def test_psnr_formula() -> None:
    a, b = _pair()
    mse = ((a - b) ** 2).mean(dim=(1, 2, 3))
    torch.testing.assert_close(psnr(b, a), 10 * torch.log10(1 / mse), rtol=1e-5, atol=1e-5)


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


def test_frechet_distance_matches_direct_formula() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6))
    y = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6)) * 0.5 + 1.0
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    # (S1 S2)^{1/2} via the symmetric form S1^{1/2} S2 S1^{1/2}, eigen-decompositions only
    w, v = np.linalg.eigh(s1)
    r1 = v @ np.diag(np.sqrt(w)) @ v.T
    w2 = np.linalg.eigvalsh(r1 @ s2 @ r1)
    direct = (
        np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(np.clip(w2, 0, None)))
    )
    assert fvd_from_features(x, y) == pytest.approx(direct, rel=1e-8)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-6)


def test_i3d_needs_a_local_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="I3D"):
        I3DFeatures(tmp_path / "i3d.pt")

    class Fake(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, T, H, W) -> (B, 3)
            return x.mean(dim=(2, 3, 4))

    torch.jit.script(Fake()).save(str(tmp_path / "i3d.pt"))
    feats = I3DFeatures(tmp_path / "i3d.pt", size=16)(torch.zeros(2, 4, 3, 8, 8))
    assert feats.shape == (2, 3)
