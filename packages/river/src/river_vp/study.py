"""Small ablation study on the procedural bouncing shapes (not a test): with vs without the reference frame
(thesis Table 5.3) and the context window at inference (Table 5.4), PSNR / SSIM.

``python -m river_vp.study --out runs/river_study [--ae_steps 300 --flow_steps 600]`` trains one autoencoder,
one RIVER model and one model without the reference frame on the same latents, evaluates them on held-out
videos and writes ``study.md`` (the table) and ``study.json``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from river_vp.cli import encode, evaluate, train, train_ae
from river_vp.config import AutoencoderRunConfig, EncodeConfig, EvalConfig, FlowRunConfig, config_dir
from river_vp.evaluation import markdown_table
from sparse_core.config import parse_config

__all__ = ["run_study"]


def _cfg(cls: type, stage: str, args: list[str]) -> Any:
    return parse_config(cls, ["--config", "tiny", *args], config_dir=config_dir(stage))


def run_study(
    out: Path,
    ae_steps: int = 300,
    flow_steps: int = 600,
    train_videos: int = 256,
    test_videos: int = 32,
    context: int = 8,
    future: int = 8,
) -> dict[str, Any]:
    """Train the three networks and evaluate; returns the rows of the table."""
    out.mkdir(parents=True, exist_ok=True)
    ae, lat = out / "ae", out / "latents"
    frames = str(context + future)
    if not (ae / "vqgan.safetensors").is_file():
        train_ae.run(
            _cfg(
                AutoencoderRunConfig,
                "ae",
                [
                    "--train.out_dir",
                    str(ae),
                    "--train.max_steps",
                    str(ae_steps),
                    "--train.batch_size",
                    "16",
                    "--model.ch",
                    "16",
                ],
            )
        )
    if not (lat / "index.json").is_file():
        encode.run(
            _cfg(
                EncodeConfig,
                "encode",
                [
                    "--autoencoder",
                    str(ae),
                    "--out",
                    str(lat),
                    "--data.num_videos",
                    str(train_videos),
                    "--data.num_frames",
                    frames,
                    "--device",
                    "cpu",
                ],
            )
        )
    runs = {
        "w/ reference": ["--condition.mode", "river"],
        "w/o reference": [
            "--condition.mode",
            "no_ref",
            "--model.num_conditions",
            "1",
            "--condition.min_target",
            "1",
        ],
    }
    dirs = {"w/ reference": out / "flow_ref", "w/o reference": out / "flow_noref"}
    for name, extra in runs.items():
        d = dirs[name]
        if not (d / "river.safetensors").is_file():
            train.run(
                _cfg(
                    FlowRunConfig,
                    "flow",
                    [
                        "--latents",
                        str(lat),
                        "--train.out_dir",
                        str(d),
                        "--train.max_steps",
                        str(flow_steps),
                        *extra,
                    ],
                )
            )
    rows: dict[str, dict[str, float]] = {}

    def ev(name: str, model: Path, window: str | None) -> None:
        slug = "".join(ch if ch.isalnum() else "_" for ch in name)
        args = [
            "--model",
            str(model),
            "--autoencoder",
            str(ae),
            "--out_dir",
            str(out / "eval" / slug),
            "--num_videos",
            str(test_videos),
            "--data.num_videos",
            str(test_videos),
            "--data.num_frames",
            frames,
            "--num_context",
            str(context),
            "--num_future",
            str(future),
        ]
        if window is not None:
            args += ["--window", window]
        m = evaluate.run(_cfg(EvalConfig, "eval", args))["metrics"]
        rows[name] = m

    ev("w/ reference (whole past)", out / "flow_ref", None)
    ev("w/o reference", out / "flow_noref", None)
    for k in (2, 4, 6, 8):
        ev(f"w/ reference, context window {k}", out / "flow_ref", str(k))
    first = next(iter(rows.values()))
    rows["copy last frame"] = {
        "psnr_gt": first["psnr_copy_last"],
        "ssim_gt": first["ssim_copy_last"],
        "psnr_ae": first["psnr_copy_last_ae"],
        "ssim_ae": first["ssim_copy_last_ae"],
    }
    rows["autoencoder reconstruction"] = {"psnr_gt": first["psnr_ae_recon"]}
    table = markdown_table(rows, ["psnr_gt", "ssim_gt", "psnr_ae", "ssim_ae"])
    header = (
        f"Procedural bouncing shapes 32x32, {train_videos} training videos, VQGAN f4 {ae_steps} steps, "
        f"U-ViT (3 blocks, width 128) {flow_steps} steps; {context} given -> {future} predicted frames on "
        f"{test_videos} held-out videos, Euler 10 steps, 1 sample.\n\n"
    )
    (out / "study.md").write_text(header + table + "\n")
    (out / "study.json").write_text(json.dumps(rows, indent=1))
    print(header + table)
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m river_vp.study``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/river_study")
    p.add_argument("--ae_steps", type=int, default=300)
    p.add_argument("--flow_steps", type=int, default=600)
    p.add_argument("--train_videos", type=int, default=256)
    p.add_argument("--test_videos", type=int, default=32)
    a = p.parse_args(argv)
    run_study(Path(a.out), a.ae_steps, a.flow_steps, a.train_videos, a.test_videos)


if __name__ == "__main__":
    main()
