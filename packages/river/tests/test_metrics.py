"""Fréchet distance against a direct NumPy computation, the local I3D, and the PSNR / SSIM river uses.

PSNR / SSIM are sparse-core's; their tests against scikit-image and torchmetrics are in core/tests/test_metrics.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from river_vp.metrics.fvd import I3DFeatures, frechet_distance, fvd_from_features
from river_vp.metrics.image import psnr, ssim
from sparse_core.eval import metrics


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


def test_river_metrics_are_core_metrics() -> None:
    assert psnr is metrics.psnr and ssim is metrics.ssim
