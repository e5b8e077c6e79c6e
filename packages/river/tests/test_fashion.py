"""Moving Fashion-MNIST wiring, per-channel latent normalisation, the baselines and metrics of the Moving-MNIST
protocol, the conv local mixing and the next-latent regressor: each against a direct formula."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from river_vp.config import VideoDataConfig
from river_vp.data.latent_cache import LatentCache, LatentCacheWriter, LatentFlowDataset
from river_vp.data.sources import VideoSource, frame_dataset
from river_vp.evaluation import PSNR_FLOOR_MSE, baseline_frames, mse
from river_vp.evaluation import psnr as eval_psnr
from river_vp.flow.conditioning import ConditionSpec
from river_vp.flow.latent_norm import LatentNorm
from river_vp.flow.sampler import SamplerConfig, sample_next_frame
from river_vp.metrics.image import psnr, ssim
from river_vp.models.uvit import VectorFieldRegressor
from river_vp.tasks.regress import NextLatentTask, RegressorField, regress_next
from sparse_core.config import ConfigError
from sparse_core.data.video import MovingFashion
from sparse_core.testing import write_fashion_mnist


@pytest.fixture(scope="module")
def garments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fashion_mnist(tmp_path_factory.mktemp("fmnist"))


def _cfg(garments: Path, split: str) -> VideoDataConfig:
    return VideoDataConfig(source="moving_fashion", split=split, garments_root=str(garments), image_size=32,
                           num_frames=5, num_videos=3, seed=4)


@pytest.mark.parametrize("split", ["train", "test"])
def test_moving_fashion_source_is_core_videos_in_signed_range(garments: Path, split: str) -> None:
    source = VideoSource(_cfg(garments, split))
    ref = MovingFashion(3, 5, 32, seed=4, split=split, root=garments)  # core's videos, (T, S, S, 3) uint8
    assert len(source) == 3 and split in source.name(1)
    for i in range(3):
        video = source.video(i)
        assert video is not None and video.shape == (5, 3, 32, 32)
        direct = torch.from_numpy(ref.video(i)).permute(0, 3, 1, 2).float() / 127.5 - 1
        torch.testing.assert_close(video, direct)
    frames = frame_dataset(_cfg(garments, split))
    assert len(frames) == 15
    torch.testing.assert_close(frames[7]["image"], source.video(1)[2])  # video 1, frame 2


def test_test_split_shows_other_garments_and_bad_split_is_refused(garments: Path) -> None:
    train, test = VideoSource(_cfg(garments, "train")), VideoSource(_cfg(garments, "test"))
    assert not torch.equal(train.video(0), test.video(0))
    with pytest.raises(ConfigError, match="data.split"):
        VideoDataConfig(source="moving_fashion", split="val")


def _write_cache(path: Path, latents: list[torch.Tensor]) -> LatentCache:
    writer = LatentCacheWriter(path)
    for i, z in enumerate(latents):
        writer.add(z, f"v{i}")
    writer.close()
    return LatentCache(path)


def test_per_channel_statistics_and_normalisation_round_trip(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(0)
    mean, std = torch.tensor([-0.9, 0.8, 0.0]), torch.tensor([0.2, 1.1, 0.5])
    latents = [torch.randn(n, 3, 2, 2, generator=gen) * std.view(3, 1, 1) + mean.view(3, 1, 1) for n in (5, 7)]
    cache = _write_cache(tmp_path, latents)
    every = torch.cat(latents).transpose(0, 1).flatten(1).double().numpy()  # (C, all values)
    stats = cache.stats()
    np.testing.assert_allclose(stats["channel_mean"], every.mean(1), rtol=1e-9)
    np.testing.assert_allclose(stats["channel_std"], every.std(1), rtol=1e-9)  # population std
    norm = LatentNorm.from_stats(stats, "channel", 3)
    z = latents[1]
    direct = (z - torch.tensor(every.mean(1)).float().view(3, 1, 1)) / torch.tensor(every.std(1)).float().view(3, 1, 1)
    torch.testing.assert_close(norm.normalize(z), direct)
    torch.testing.assert_close(norm.denormalize(norm.normalize(z)), z)
    # the training examples carry exactly this map (cache frames are stored as float16)
    torch.manual_seed(0)
    item = LatentFlowDataset(cache, ConditionSpec(), norm=norm)[1]
    torch.testing.assert_close(item["target"], norm.normalize(cache.frames(1, [item["tau"]]))[0])
    # the global form is one scale factor, and a saved field's extra gives back what it was trained with
    glob = LatentNorm.from_stats(stats, "global", 3)
    torch.testing.assert_close(glob.normalize(z), z / stats["std"])
    assert LatentNorm.from_extra({"latent_norm": norm.to_extra()}, 3) == norm
    assert LatentNorm.from_extra({"latent_scale": 2.0}, 3) == LatentNorm.scale(2.0, 3)
    with pytest.raises(ValueError, match="per-channel"):
        LatentNorm.from_stats({"mean": 0.0, "std": 1.0}, "channel", 3)


def test_baselines_and_metrics_against_direct_formulas() -> None:
    gen = torch.Generator().manual_seed(1)
    given = torch.rand(2, 3, 3, 12, 12, generator=gen)  # (B, k, 3, H, W) in [0, 1]
    future = torch.rand(2, 4, 3, 12, 12, generator=gen)
    base = baseline_frames(given, 4)
    g, f = given.double().numpy(), future.double().numpy()
    direct = {"copy_last": np.repeat(g[:, -1:], 4, 1), "mean_frame": np.repeat(g.mean(1, keepdims=True), 4, 1),
              "black": np.zeros_like(f)}
    for name, frames in base.items():
        np.testing.assert_allclose(frames.numpy(), direct[name], rtol=1e-6, atol=1e-7)
        err = ((direct[name] - f) ** 2).mean((2, 3, 4))  # (B, n): one MSE per frame
        np.testing.assert_allclose(mse(frames, future).numpy(), err, rtol=1e-5)
        np.testing.assert_allclose(psnr(frames, future).numpy(), 10 * np.log10(1 / err), rtol=1e-5)


def test_evaluation_psnr_is_capped_at_the_8_bit_floor() -> None:
    a = torch.rand(2, 3, 8, 8)
    b = (a + 0.1).clamp(0, 1)
    torch.testing.assert_close(eval_psnr(a, b), psnr(a, b))  # the cap does not touch ordinary errors
    cap = 10 * np.log10(12 * 255**2)  # identical frames: PSNR at MSE (1/255)^2 / 12
    assert PSNR_FLOOR_MSE == pytest.approx(1 / (12 * 255**2))
    np.testing.assert_allclose(eval_psnr(a, a).numpy(), [cap, cap], rtol=1e-6)


def test_ssim_per_frame_matches_scikit_image() -> None:
    skm = pytest.importorskip("skimage.metrics")
    gen = torch.Generator().manual_seed(2)
    a = torch.rand(2, 3, 3, 16, 16, generator=gen)
    b = (a + 0.2 * torch.randn(a.shape, generator=gen)).clamp(0, 1)
    ours = ssim(a, b)  # (B, n)
    assert ours.shape == (2, 3)
    for i in range(2):
        for t in range(3):
            ref = skm.structural_similarity(a[i, t].permute(1, 2, 0).double().numpy(),
                                            b[i, t].permute(1, 2, 0).double().numpy(), channel_axis=2,
                                            data_range=1.0, gaussian_weights=True, sigma=1.5,
                                            use_sample_covariance=False)
            assert float(ours[i, t]) == pytest.approx(ref, abs=1e-5)


@pytest.mark.parametrize("num_conditions,patch", [(2, 1), (2, 2), (1, 2)])
def test_conv_local_mixing_shapes_and_grads(field_cfg, num_conditions: int, patch: int) -> None:
    model = VectorFieldRegressor(field_cfg(num_conditions=num_conditions, patch_size=patch, local_mixing="conv",
                                           conv_width=8, state_size=8))
    z, conds = torch.randn(2, 4, 8, 8), torch.randn(2, num_conditions, 4, 8, 8)
    dists = torch.ones(2, num_conditions, dtype=torch.long)
    out = model(z, torch.rand(2), conds, dists)
    assert out.shape == z.shape and torch.isfinite(out).all()
    out.pow(2).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.conv_stem.parameters())
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ConfigError, match="local_mixing"):
        field_cfg(layout="official", local_mixing="conv")
    with pytest.raises(ConfigError, match="local_mixing"):
        field_cfg(local_mixing="unet")


def test_regressor_field_lands_on_its_prediction_and_its_loss_is_the_squared_error(field_cfg) -> None:
    task = NextLatentTask(field_cfg())
    conds, dists = torch.randn(3, 2, 4, 4, 4), torch.ones(3, 2, dtype=torch.long)
    target = torch.randn(3, 4, 4, 4)
    pred = regress_next(task.model, conds, dists)
    loss = task.training_step({"target": target, "conds": conds, "dists": dists}, 0)["loss"]
    torch.testing.assert_close(loss, ((pred - target) ** 2).mean())
    field = RegressorField(task.model).eval()
    frames = torch.cat([conds.flip(1), torch.zeros(3, 1, 4, 4, 4)], 1)  # frames 0, 1 given; 2 predicted
    with torch.no_grad():
        expected = regress_next(task.model, frames[:, [1, 0]], torch.tensor([[1, 2]]).expand(3, 2))
        for steps in (1, 4):
            got = sample_next_frame(field, frames, 2, ConditionSpec(), SamplerConfig(steps=steps, sigma_min=0.0),
                                    torch.Generator().manual_seed(0))
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
