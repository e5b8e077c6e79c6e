"""Small ablation study on the procedural bouncing shapes (not a test): with vs without the reference frame
(thesis Table 5.3) and the context window at inference (Table 5.4), PSNR / SSIM.

``python -m river_vp.study --out runs/river_study [--seeds [0,1,2]] [--ae_steps N --flow_steps N]
[--doc docs/study.md] [--quick true]`` trains, for each seed, one autoencoder, one RIVER model and one model
without the reference frame on the same latents, evaluates them on held-out videos and writes ``study.md``
(the table, mean ± std over the seeds), ``study.png`` (PSNR / SSIM bars with the seeds' std as error bars,
next to ``--doc`` when given) and ``study.json`` (built on :func:`sparse_core.suite.study_main`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from river_vp.cli import encode, evaluate, train, train_ae
from river_vp.cli.stages import STAGES
from river_vp.demo import AE_ARGS, AE_STEPS
from sparse_core.report import markdown_table, seed_mean, seed_summary
from sparse_core.suite import StageResult, StudyConfig, study_main

__all__ = ["RiverStudyConfig", "main", "run_study", "study"]

COLUMNS = ["run", "psnr_gt", "ssim_gt", "psnr_ae", "ssim_ae"]
WINDOWS = (2, 4, 6)


def run_study(
    out: Path,
    ae_steps: int = AE_STEPS,
    flow_steps: int = 3000,
    train_videos: int = 256,
    test_videos: int = 32,
    context: int = 8,
    future: int = 8,
    seed: int = 0,
    autoencoder: Path | None = None,
) -> dict[str, Any]:
    """Train the three networks with training seed ``seed`` and evaluate; returns the rows of the table.

    ``autoencoder``: reuse this trained VQGAN (run folder) instead of training one in ``out/ae``. Whatever
    ``out`` already holds is kept: trained weights are not retrained and a finished seed (``out/study.json``)
    is not re-evaluated, so an interrupted study continues where it stopped (delete ``out`` to start over).
    """
    out.mkdir(parents=True, exist_ok=True)
    if (out / "study.json").is_file():  # this seed already ran to the end: its rows are kept (as its weights)
        return dict(json.loads((out / "study.json").read_text()))
    ae, lat = (autoencoder or out / "ae"), out / "latents"
    frames = str(context + future)
    if not (ae / "vqgan.safetensors").is_file():
        train_ae.run(STAGES["ae"].tiny(["--train.out_dir", str(ae), "--train.max_steps", str(ae_steps), *AE_ARGS,
                                        "--train.seed", str(seed)]))
    if not (lat / "index.json").is_file():
        encode.run(STAGES["encode"].tiny(["--autoencoder", str(ae), "--out", str(lat), "--data.num_videos",
                                          str(train_videos), "--data.num_frames", frames, "--device", "cpu"]))
    runs = {
        "w/ reference": ["--condition.mode", "river"],
        "w/o reference": ["--condition.mode", "no_ref", "--model.num_conditions", "1", "--condition.min_target", "1"],
    }
    dirs = {"w/ reference": out / "flow_ref", "w/o reference": out / "flow_noref"}
    for name, extra in runs.items():
        d = dirs[name]
        if not (d / "river.safetensors").is_file():
            train.run(STAGES["flow"].tiny(["--latents", str(lat), "--train.out_dir", str(d), "--train.max_steps",
                                           str(flow_steps), "--train.seed", str(seed), *extra]))
    rows: dict[str, dict[str, float]] = {}

    def ev(name: str, model: Path, window: str | None) -> None:
        slug = "".join(ch if ch.isalnum() else "_" for ch in name)
        args = ["--model", str(model), "--autoencoder", str(ae), "--out_dir", str(out / "eval" / slug),
                "--num_videos", str(test_videos), "--data.num_videos", str(test_videos), "--data.num_frames", frames,
                "--num_context", str(context), "--num_future", str(future)]
        if window is not None:
            args += ["--window", window]
        m = evaluate.run(STAGES["eval"].tiny(args))["metrics"]
        rows[name] = m

    ev("w/ reference (whole past)", out / "flow_ref", None)
    ev("w/o reference", out / "flow_noref", None)
    for k in WINDOWS:
        ev(f"w/ reference, context window {k}", out / "flow_ref", str(k))
    first = next(iter(rows.values()))
    rows["copy last frame"] = {
        "psnr_gt": first["psnr_copy_last"],
        "ssim_gt": first["ssim_copy_last"],
        "psnr_ae": first["psnr_copy_last_ae"],
        "ssim_ae": first["ssim_copy_last_ae"],
    }
    rows["autoencoder reconstruction"] = {"psnr_gt": first["psnr_ae_recon"]}
    table = markdown_table([{"run": k, **v} for k, v in rows.items()], COLUMNS, fmt=".4g")
    header = (
        f"Procedural bouncing shapes 32x32, {train_videos} training videos, VQGAN f4 {ae_steps} steps, "
        f"U-ViT (3 blocks, width 128) {flow_steps} steps; {context} given -> {future} predicted frames on "
        f"{test_videos} held-out videos, Euler 10 steps, 1 sample.\n\n"
    )
    (out / "study.md").write_text(header + table + "\n")
    (out / "study.json").write_text(json.dumps(rows, indent=1))
    print(header + table)
    return rows


@dataclass
class RiverStudyConfig(StudyConfig):
    """python -m river_vp.study: with vs without the reference frame, and the context window (Tables 5.3/5.4)."""

    out: str = "runs/river_study"
    """Output folder (one sub-folder per seed, study.md and study.json on top)."""
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    """Training seeds (autoencoder, both vector fields); the table reports mean ± std over them."""
    ae_steps: int = AE_STEPS
    """Autoencoder training steps (the demo's)."""
    flow_steps: int = 3000
    """Vector-field training steps (each of the two models; ~11 min each on one free CPU core; 600 steps give
    +0.6 dB over copy-last where 3000 give +1.1, docs/study.md)."""
    train_videos: int = 256
    """Procedural training videos."""
    test_videos: int = 32
    """Held-out test videos."""
    autoencoder: str | None = None
    """A trained VQGAN run folder shared by every seed (e.g. the demo's ``runs/demo/river/ae``); None: each
    seed trains its own with ``ae_steps``."""


def study(cfg: RiverStudyConfig) -> StageResult:
    """Run :func:`run_study` for every seed; the table holds mean ± std over the seeds."""
    sizes = (20, 20, 16, 4) if cfg.quick else (cfg.ae_steps, cfg.flow_steps, cfg.train_videos, cfg.test_videos)
    ae_steps, flow_steps, train_videos, test_videos = sizes
    per_seed = []
    for seed in cfg.seeds:
        rows = run_study(Path(cfg.out) / f"seed{seed}", ae_steps, flow_steps, train_videos, test_videos, seed=seed,
                         autoencoder=Path(cfg.autoencoder) if cfg.autoencoder else None)
        per_seed.append([{"run": k, **v} for k, v in rows.items()])
    merged = seed_summary(per_seed, key=["run"], fmt=".3f")
    table = markdown_table(merged, [*COLUMNS, "seeds"])
    plot = Path(cfg.doc).with_suffix(".png") if cfg.doc else Path(cfg.out) / "study.png"
    study_figure(per_seed, plot)
    summary = (
        f"# RIVER: reference frame and context window (procedural bouncing shapes)\n\n"
        f"32x32 frames, {train_videos} training videos, VQGAN f4 "
        f"{'from ' + cfg.autoencoder + ' (shared by the seeds)' if cfg.autoencoder else f'{ae_steps} steps'}, "
        "U-ViT (3 blocks, width 128) "
        f"{flow_steps} steps; 8 given -> 8 predicted frames on {test_videos} held-out videos, Euler 10 steps, "
        f"1 sample; mean ± std over seeds {cfg.seeds}.\n\n{table}\n\n![PSNR / SSIM per run]({plot.name})\n"
    )
    headline = {"psnr_gt_with_reference": seed_mean(per_seed, "psnr_gt", run="w/ reference (whole past)"),
                "psnr_gt_without_reference": seed_mean(per_seed, "psnr_gt", run="w/o reference"),
                "psnr_gt_copy_last": seed_mean(per_seed, "psnr_gt", run="copy last frame")}
    headline["psnr_ae_recon"] = seed_mean(per_seed, "psnr_gt", run="autoencoder reconstruction")
    headline["ssim_gt_with_reference"] = seed_mean(per_seed, "ssim_gt", run="w/ reference (whole past)")
    headline["ssim_gt_copy_last"] = seed_mean(per_seed, "ssim_gt", run="copy last frame")
    return StageResult(metrics=headline, summary=summary, outputs=[str(plot)], details={"per_seed": per_seed})


def study_figure(per_seed: Sequence[Sequence[dict[str, Any]]], path: Path) -> Path:
    """Bars of PSNR and SSIM vs ground truth per run, mean over seeds with their std as error bars.

    Args:
        per_seed: for each seed, its rows (``{"run", "psnr_gt", "ssim_gt", ...}``).
        path: the PNG written.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from sparse_core.figures import seed_stats

    runs = [r["run"] for r in per_seed[0]]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key, label in zip(axes, ("psnr_gt", "ssim_gt"), ("PSNR vs ground truth (dB)", "SSIM vs ground truth"),
                              strict=True):
        names = [n for n in runs if all(key in {k for r in rows if r["run"] == n for k in r} for rows in per_seed)]
        vals = np.array([[next(r[key] for r in rows if r["run"] == n) for rows in per_seed] for n in names])
        colors = ["tab:green" if n.startswith("w/ ref") else "tab:red" if n.startswith("w/o") else "tab:gray"
                  for n in names]
        mean, std = seed_stats(vals.T)  # (seeds, runs) -> per run: mean, sample std (the table's)
        ax.barh(range(len(names)), mean, xerr=std, color=colors, capsize=3)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(label)
        lo = vals.min() * 0.9
        ax.set_xlim(lo, vals.max() * 1.04)
    fig.suptitle(f"RIVER on bouncing shapes: mean ± std over {len(per_seed)} seeds", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m river_vp.study``: 0 on success, 2 on a config error."""
    return study_main(RiverStudyConfig, study, argv, "river_vp")


if __name__ == "__main__":
    raise SystemExit(main())
