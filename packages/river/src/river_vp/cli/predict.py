"""river-predict: predict future frames of test videos and write MP4 + GIF (ground truth | prediction(s) |
copy-last-frame) and a PNG frame grid per video (rows: ground truth, each sample, copy-last), plus
``metrics.json`` with per-video PSNR.

Example: ``river-predict --config tiny --model runs/flow --autoencoder runs/ae --out_dir runs/pred``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from river_vp.cli.stages import STAGES
from river_vp.config import PredictConfig
from sparse_core.config import save_config

log = logging.getLogger("river_vp.predict")


def run(cfg: PredictConfig) -> dict[str, Any]:
    """Predict and write files; returns ``{"outputs": [paths], "psnr": mean, "psnr_copy_last": mean}``."""
    import torch  # torch and the models: for a run, not for --help or a bad argument

    from river_vp.data.sources import VideoSource
    from river_vp.evaluation import psnr
    from river_vp.predictor import RiverPredictor
    from river_vp.viz.video import comparison_frames, save_frame_grid
    from sparse_core.data.video import write_video
    from sparse_core.device import resolve_device

    with torch.no_grad():
        device = resolve_device(cfg.device)
        predictor = RiverPredictor.from_paths(cfg.model, cfg.autoencoder, device)
        source = VideoSource(cfg.data)
        out = Path(cfg.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "config.yaml")
        gen = torch.Generator().manual_seed(cfg.seed)
        length = cfg.num_context + cfg.num_future
        outputs: list[Path] = []
        records = []
        done = 0
        for i in range(len(source)):
            if done >= cfg.num_videos:
                break
            video = source.video(i)
            if video is None or video.shape[0] < length:
                continue
            gt = video[:length]
            pred = predictor.predict(
                gt[None, : cfg.num_context], cfg.num_future, cfg.sampler, cfg.num_samples, gen, cfg.window
            ).cpu()  # (S, T, 3, H, W)
            copy_last = torch.cat(
                [
                    gt[: cfg.num_context],
                    gt[cfg.num_context - 1 : cfg.num_context].expand(cfg.num_future, -1, -1, -1),
                ]
            )
            fut = slice(cfg.num_context, length)
            p = psnr((pred[:, fut] + 1) / 2, (gt[None, fut] + 1) / 2).mean().item()
            p_copy = psnr((copy_last[fut] + 1) / 2, (gt[fut] + 1) / 2).mean().item()
            records.append({"video": source.name(i), "psnr": p, "psnr_copy_last": p_copy})
            frames = comparison_frames([gt, *pred, copy_last], cfg.num_context, scale=max(1, 128 // gt.shape[-1]))
            stem = out / f"video_{done:03d}"
            outputs += [
                write_video(stem.with_suffix(".mp4"), frames, cfg.fps, crf=18, pix_fmt="yuv420p"),
                write_video(stem.with_suffix(".gif"), frames, cfg.fps),
                save_frame_grid([gt, *pred, copy_last], stem.with_name(stem.name + "_grid.png")),
            ]
            done += 1
        if not records:
            raise RuntimeError(f"no video with at least {length} frames could be read from {cfg.data.source}")
        summary = {
            "psnr": sum(r["psnr"] for r in records) / len(records),
            "psnr_copy_last": sum(r["psnr_copy_last"] for r in records) / len(records),
            "videos": records,
            "num_skipped": source.num_skipped,
        }
        (out / "metrics.json").write_text(json.dumps(summary, indent=1))
        log.info("wrote %d files to %s", len(outputs), out)
        return {"outputs": outputs, **summary}


def _report(result: dict[str, Any]) -> str:
    return (
        f"PSNR of predicted frames: {result['psnr']:.2f} dB (copy-last-frame baseline "
        f"{result['psnr_copy_last']:.2f} dB); files in {Path(result['outputs'][0]).parent}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: 0 on success, 2 on a config error or a missing model / autoencoder."""
    return STAGES["predict"].main(run, _report, argv)


if __name__ == "__main__":
    raise SystemExit(main())
