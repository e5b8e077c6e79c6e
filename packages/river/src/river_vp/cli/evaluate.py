"""river-eval: score predictions against ground truth and autoencoded ground truth (Table 5.2 protocol).

Presets: ``--protocol bair`` (1 -> 15, 100 samples per test video), ``kth10_30``, ``kth10_40``, ``clevrer``
(2 -> 14). FVD needs an I3D TorchScript on a local path (``--i3d_path``), LPIPS a TorchScript LPIPS
(``--lpips_path``); neither ships with the package. Writes
``metrics.json``, ``metrics.md`` and a PSNR-per-frame
plot in ``out_dir``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from river_vp.cli.stages import STAGES
from river_vp.config import PROTOCOLS, EvalConfig
from sparse_core.config import ConfigError, save_config
from sparse_core.report import markdown_table

log = logging.getLogger("river_vp.eval")

TABLE_KEYS = [
    "psnr_gt",
    "ssim_gt",
    "psnr_gt_best",
    "ssim_gt_best",
    "psnr_ae",
    "ssim_ae",
    "mse_gt",
    "psnr_copy_last",
    "ssim_copy_last",
    "psnr_mean_frame",
    "ssim_mean_frame",
    "psnr_black",
    "ssim_black",
    "psnr_copy_last_ae",
    "ssim_copy_last_ae",
    "psnr_ae_recon",
    "lpips_gt",
    "fvd_gt",
    "fvd_ae",
    "latent_mse_one_step",
    "latent_mse_copy",
    "psnr_one_step",
    "psnr_copy_one_step",
]


def _per_sample_lpips(path: str) -> Any:
    """The TorchScript LPIPS at ``path`` as a module returning one distance per sample."""
    import torch

    from river_vp.losses.perceptual import PerceptualLoss

    class PerSampleLPIPS(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = PerceptualLoss(path).net

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return self.net(x, y).flatten()  # type: ignore[misc]

    return PerSampleLPIPS()


def run(cfg: EvalConfig) -> dict[str, Any]:
    """Evaluate; returns the summary dict written to ``metrics.json``."""
    from river_vp.data.sources import VideoSource  # torch and the models: for a run, not for --help or a bad argument
    from river_vp.evaluation import evaluate_prediction, summary_dict
    from river_vp.metrics.fvd import I3DFeatures
    from river_vp.predictor import RiverPredictor
    from sparse_core.device import resolve_device

    if cfg.protocol == "custom":
        k, n, s = cfg.num_context, cfg.num_future, cfg.num_samples
    elif cfg.protocol in PROTOCOLS:
        k, n, s = PROTOCOLS[cfg.protocol]
    else:
        raise ConfigError(f"protocol must be 'custom' or one of {sorted(PROTOCOLS)}, got '{cfg.protocol}'")
    device = resolve_device(cfg.device)
    predictor = RiverPredictor.from_paths(cfg.model, cfg.autoencoder, device)
    i3d = I3DFeatures(cfg.i3d_path).to(device) if cfg.i3d_path else None
    if i3d is None:
        log.info("FVD skipped: pass --i3d_path with a local I3D TorchScript to compute it")
    lpips = _per_sample_lpips(cfg.lpips_path).to(device) if cfg.lpips_path else None
    result = evaluate_prediction(
        predictor,
        VideoSource(cfg.data),
        k,
        n,
        cfg.sampler,
        s,
        cfg.num_videos,
        cfg.batch_size,
        cfg.seed,
        cfg.window,
        i3d,
        lpips,
        cfg.one_step,
    )
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    summary = {**summary_dict(result), "protocol": {"context": k, "future": n, "samples": s}}
    (out / "metrics.json").write_text(json.dumps(summary, indent=1))
    row = {"run": f"{k}->{n} x{s}", **result.metrics}
    (out / "metrics.md").write_text(markdown_table([row], ["run", *TABLE_KEYS], fmt=".4g") + "\n")
    _plot(result.curves, out / "psnr_per_frame.png", k)
    return summary


def _plot(curves: dict[str, list[float]], path: Path, k: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key in ("psnr_gt", "psnr_ae", "psnr_copy_last", "psnr_mean_frame", "psnr_black", "psnr_ae_recon"):
        if key in curves:
            ax.plot(range(k + 1, k + 1 + len(curves[key])), curves[key], label=key, marker=".")
    ax.set_xlabel("frame index")
    ax.set_ylabel("PSNR (dB)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _report(summary: dict[str, Any]) -> str:
    return json.dumps(summary["metrics"], indent=1)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: 0 on success, 2 on a config error or a missing input path."""
    return STAGES["eval"].main(run, _report, argv)


if __name__ == "__main__":
    raise SystemExit(main())
