"""Evaluation of video prediction: MSE / PSNR / SSIM per predicted frame (mean and best over samples) against the
ground truth and against the autoencoded ground truth (Table 5.2), three baselines (copy the last given frame,
the mean of the given frames, an all-black frame), the one-step error from true past frames (teacher forcing, in
the flow's latent space and in pixels, against copying the previous frame), and FVD / LPIPS when the user
supplies the networks' weights on local paths."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from river_vp.data.sources import VideoSource
from river_vp.flow.sampler import SamplerConfig
from river_vp.metrics.fvd import fvd_from_features
from river_vp.metrics.image import psnr as _psnr
from river_vp.metrics.image import ssim
from river_vp.predictor import RiverPredictor

__all__ = ["PSNR_FLOOR_MSE", "EvalResult", "baseline_frames", "evaluate_prediction", "mse", "psnr"]

log = logging.getLogger("river_vp.eval")


@dataclass
class EvalResult:
    """Aggregated metrics (``metrics``) and per-future-frame PSNR curves (``curves``)."""

    metrics: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    num_videos: int = 0
    num_skipped: int = 0


def _to01(x: Tensor) -> Tensor:
    return (x.float().clamp(-1, 1) + 1) / 2


PSNR_FLOOR_MSE = 1.0 / (12 * 255**2)
"""Smallest MSE a frame's PSNR is computed with: the error of rounding [0, 1] values to 8 bits (uniform, variance
``(1/255)^2 / 12``), so PSNR is capped at 58.9 dB. Frames equal to 8 bits are indistinguishable after writing;
without a cap a predicted frame that happens to equal the truth (copy-last, when a garment bounces back onto the
same pixels of the last given frame) scores 200 dB and one such frame moves a mean over 320 frames by ~0.6 dB."""


def psnr(pred: Tensor, target: Tensor) -> Tensor:
    """PSNR per image in dB of [0, 1] images, capped at the 8-bit quantisation floor (:data:`PSNR_FLOOR_MSE`).

    Shape:
        pred, target: (..., C, H, W) broadcastable; returns (...).
    """
    return _psnr(pred, target, min_mse=PSNR_FLOOR_MSE)


def baseline_frames(given: Tensor, num_future: int) -> dict[str, Tensor]:
    """The baselines' predictions of ``num_future`` frames from the given ones.

    ``copy_last``: the last given frame repeated; ``mean_frame``: the per-pixel mean of the given frames
    repeated; ``black``: zeros (an all-black frame in [0, 1]).

    Shape:
        given: (B, k, 3, H, W) in [0, 1]; returns name -> (B, num_future, 3, H, W).
    """
    b, _, *rest = given.shape
    last = given[:, -1:].expand(b, num_future, *rest)
    mean = given.mean(1, keepdim=True).expand(b, num_future, *rest)
    return {"copy_last": last, "mean_frame": mean, "black": torch.zeros_like(last)}


def mse(pred: Tensor, target: Tensor) -> Tensor:
    """Mean squared error per image over (C, H, W), float64 -> float32.

    Shape:
        pred, target: (..., C, H, W) broadcastable; returns (...).
    """
    return ((pred.double() - target.double()) ** 2).mean((-3, -2, -1)).float()


def _best(values: Tensor) -> Tensor:
    """Per video, the per-frame values of the sample with the best mean: (B, S, n) -> (B, n)."""
    best = values.mean(2).argmax(1)
    return values[torch.arange(values.shape[0]), best]


@torch.no_grad()
def evaluate_prediction(
    predictor: RiverPredictor,
    source: VideoSource,
    num_context: int,
    num_future: int,
    sampler: SamplerConfig,
    num_samples: int = 1,
    num_videos: int | None = None,
    batch_size: int = 16,
    seed: int = 0,
    window: int | None = None,
    i3d: nn.Module | None = None,
    lpips: nn.Module | None = None,
    one_step: bool = False,
) -> EvalResult:
    """Predict ``num_future`` frames from ``num_context`` for each test video and score them.

    Metrics (keys of ``EvalResult.metrics``, each the mean over videos and predicted frames; ``gt`` = ground
    truth, ``ae`` = autoencoded ground truth; pixels in [0, 1]):
    ``mse_gt``/``psnr_gt``/``ssim_gt`` (mean over samples), ``psnr_gt_best``/``ssim_gt_best`` (best sample per
    video), the same with ``_ae``; the baselines ``{mse,psnr,ssim}_{copy_last,mean_frame,black}``
    (:func:`baseline_frames`; ``psnr_copy_last_ae``/``ssim_copy_last_ae``: in autoencoded space against the
    autoencoded ground truth); ``psnr_ae_recon`` (autoencoder alone); ``fvd_gt``/``fvd_ae`` with ``i3d``,
    ``lpips_gt`` with ``lpips``. With ``one_step``, each future frame is also predicted from the *true*
    latents of all frames before it (teacher forcing, one sample): ``latent_mse_one_step`` (squared error in
    the flow's latent space) vs ``latent_mse_copy`` (the previous true latent as the prediction), and
    ``psnr_one_step`` vs ``psnr_copy_one_step`` in pixels. ``EvalResult.curves`` holds every ``mse_*``,
    ``psnr_*`` and ``ssim_*`` key per predicted frame.
    """
    gen = torch.Generator().manual_seed(seed)
    total = len(source) if num_videos is None else min(num_videos, len(source))
    sums: dict[str, list[Tensor]] = {}
    feats: dict[str, list[Tensor]] = {"gt": [], "ae": [], "pred": []}
    length = num_context + num_future
    batch: list[Tensor] = []
    count = 0

    def add(key: str, value: Tensor) -> None:
        sums.setdefault(key, []).append(value.cpu())

    def flush(videos: list[Tensor]) -> None:
        gt = torch.stack(videos).to(predictor.device)  # (B, T, 3, H, W)
        b = gt.shape[0]
        ae = predictor.autoencode(gt)
        pred = predictor.predict(gt[:, :num_context], num_future, sampler, num_samples, gen, window)
        pred = pred.reshape(b, num_samples, length, *gt.shape[2:])[:, :, num_context:]  # (B, S, n, 3, H, W)
        fut_gt, fut_ae = _to01(gt[:, num_context:]), _to01(ae[:, num_context:])
        p01 = _to01(pred)
        for name, ref in (("gt", fut_gt), ("ae", fut_ae)):
            ps = psnr(p01, ref[:, None])  # (B, S, n)
            ss = ssim(p01, ref[:, None])
            add(f"psnr_{name}", ps.mean(1))
            add(f"ssim_{name}", ss.mean(1))
            add(f"psnr_{name}_best", _best(ps))
            add(f"ssim_{name}_best", _best(ss))
        add("mse_gt", mse(p01, fut_gt[:, None]).mean(1))
        for name, frames in baseline_frames(_to01(gt[:, :num_context]), num_future).items():
            add(f"mse_{name}", mse(frames, fut_gt))
            add(f"psnr_{name}", psnr(frames, fut_gt))
            add(f"ssim_{name}", ssim(frames, fut_gt))
        if one_step:
            z = predictor.encode(gt)  # (B, T, C, h, w) in the flow's space
            z_hat = predictor.one_step(z, num_context, sampler, gen, window)  # (B, n, C, h, w)
            add("latent_mse_one_step", ((z_hat - z[:, num_context:]) ** 2).mean((-3, -2, -1)))
            add("latent_mse_copy", ((z[:, num_context - 1 : -1] - z[:, num_context:]) ** 2).mean((-3, -2, -1)))
            add("psnr_one_step", psnr(_to01(predictor.decode(z_hat)), fut_gt))
            add("psnr_copy_one_step", psnr(_to01(gt[:, num_context - 1 : -1]), fut_gt))
        last_ae = _to01(ae[:, num_context - 1 : num_context]).expand_as(fut_ae)
        add("psnr_copy_last_ae", psnr(last_ae, fut_ae))
        add("ssim_copy_last_ae", ssim(last_ae, fut_ae))
        add("psnr_ae_recon", psnr(fut_ae, fut_gt))
        if lpips is not None:
            ref = gt[:, None, num_context:].expand_as(pred).flatten(0, 2)
            add("lpips_gt", lpips(pred.flatten(0, 2), ref).float().reshape(b, -1))
        if i3d is not None:
            feats["gt"].append(i3d(gt).cpu())
            feats["ae"].append(i3d(ae).cpu())
            full = torch.cat([gt[:, None, :num_context].expand(-1, num_samples, -1, -1, -1, -1), pred], 2)
            feats["pred"].append(i3d(full.flatten(0, 1)).cpu())

    for i in range(len(source)):
        if count >= total:
            break
        video = source.video(i)
        if video is None:
            continue
        if video.shape[0] < length:
            log.warning("%s has %d frames < %d needed; skipped", source.name(i), video.shape[0], length)
            continue
        batch.append(video[:length])
        count += 1
        if len(batch) == batch_size:
            flush(batch)
            batch = []
    if batch:
        flush(batch)
    if count == 0:
        raise RuntimeError("no test video could be evaluated")
    result = EvalResult(num_videos=count, num_skipped=source.num_skipped)
    for key, values in sums.items():
        v = torch.cat(values)  # (N, n)
        result.metrics[key] = float(v.mean())
        if key.startswith(("psnr", "ssim", "mse", "latent")):
            result.curves[key] = v.mean(0).tolist()
    if i3d is not None:
        result.metrics["fvd_gt"] = fvd_from_features(torch.cat(feats["gt"]), torch.cat(feats["pred"]))
        result.metrics["fvd_ae"] = fvd_from_features(torch.cat(feats["ae"]), torch.cat(feats["pred"]))
    return result


def summary_dict(result: EvalResult) -> dict[str, Any]:
    """JSON-ready dict of an :class:`EvalResult`."""
    return {
        "metrics": result.metrics,
        "curves": result.curves,
        "num_videos": result.num_videos,
        "num_skipped": result.num_skipped,
    }
