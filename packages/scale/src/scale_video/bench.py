"""SCALE benchmark (``nox -s bench``; never a test): training throughput on stored features vs the backbone.

1. SCALE training samples/s (a sample: one video's 16 stored clip features and boxes; forward of the
   predictor on two sets of 8, MCM + SET losses, backward, AdamW; data already in device memory as in
   training) and peak memory, at batch 2048 (thesis Table 4.1: 9,224 samples/s and 19.5 GB on one 3090,
   ViT-B features).
2. The backbone run end to end on the same clips: a ViT-B video encoder (sparse-core's VideoViT,
   16 x 224^2 clips), forward + backward + AdamW, clips/s (Table 4.1's VMAE row: 33.5 samples/s).
   Ratios: SCALE samples/s over backbone clips/s (Table 4.1's comparison) and over backbone samples/s
   where a sample is the same 16 clips.

Times are medians of repeats after warm-up (:func:`sparse_core.timing.training_step_time`).
``quick=True`` uses batch 256 and a small backbone (smoke run; numbers not meaningful). On a CPU the
backbone is timed on one clip per step.
"""

from __future__ import annotations

import json
import resource
from pathlib import Path
from typing import Any

import torch

from scale_video.data import FeatureBank
from scale_video.model import PredictorConfig
from scale_video.task import LossConfig, SCALETask
from sparse_core.models.video_vit import VideoViT
from sparse_core.report import markdown_table
from sparse_core.suite import StageResult
from sparse_core.timing import median_time, training_step_time

__all__ = ["backbone_rate", "run", "scale_rate"]

CLIPS, FEAT_DIM = 16, 768  # 16 stored clips per video, ViT-B features (Table 4.1)


def _peak_mib(device: torch.device) -> float | None:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS (Linux: KiB)


def scale_rate(batch: int, device: torch.device, repeats: int, dim: int = FEAT_DIM) -> dict[str, Any]:
    """Samples/s and peak memory of SCALE training steps at ``batch`` on ``device``."""
    g = torch.Generator().manual_seed(0)
    n = 2 * batch
    bank = FeatureBank(torch.randn(n, CLIPS, dim, generator=g).half(), torch.rand(n, CLIPS, 6, generator=g),
                       torch.zeros(n, dtype=torch.long), torch.arange(n)).to(device)
    torch.manual_seed(0)
    task = SCALETask(bank, PredictorConfig(), LossConfig()).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds, _ = training_step_time(task, {"index": torch.arange(batch, device=device)}, device, repeats)
    return {"batch": batch, "step_s": seconds, "samples_per_s": batch / seconds, "peak_mib": _peak_mib(device)}


def backbone_rate(device: torch.device, clips: int, repeats: int, quick: bool) -> dict[str, Any]:
    """Clips/s of training a ViT-B video backbone end to end (forward + backward + AdamW) on ``clips`` clips."""
    torch.manual_seed(0)
    if quick:
        model = VideoViT(img_size=32, num_frames=4, patch_size=16, embed_dim=96, depth=2, num_heads=3).to(device)
        x = torch.randn(clips, 3, 4, 32, 32, device=device)
    else:
        model = VideoViT().to(device)  # ViT-B/16, 16 x 224^2, 2-frame tubelets (VideoMAE's)
        x = torch.randn(clips, 3, 16, 224, 224, device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    cuda = device.type == "cuda"

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            out = model.forward_features(x) if hasattr(model, "forward_features") else model(x)
        opt.zero_grad(set_to_none=True)
        out.float().mean().backward()
        opt.step()

    seconds = median_time(step, device, repeats, warmup=1)
    return {"clips": clips, "step_s": seconds, "clips_per_s": clips / seconds}


def run(out_dir: Path, quick: bool = False) -> StageResult:
    """Run the benchmark into ``out_dir``; headline: SCALE samples/s, backbone clips/s and their ratios."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gpu = device.type == "cuda"
    batch = 256 if quick else 2048
    scale = scale_rate(batch, device, repeats=10 if gpu and not quick else 3)
    bb_clips = (16 if gpu else 1) if not quick else 4
    backbone = backbone_rate(device, bb_clips, repeats=2 if (quick or not gpu) else 5, quick=quick)
    ratio = scale["samples_per_s"] / backbone["clips_per_s"]
    rows = [{"what": f"SCALE training (batch {batch}, {CLIPS} x {FEAT_DIM}-d clip features per sample)",
             "rate": scale["samples_per_s"], "unit": "samples/s", "peak_mib": scale["peak_mib"]},
            {"what": "backbone end to end (ViT-B video, 16 x 224^2 clips)" if not quick else "backbone (tiny)",
             "rate": backbone["clips_per_s"], "unit": "clips/s", "peak_mib": None}]
    table = markdown_table(rows, {"what": "", "rate": "rate", "unit": "unit", "peak_mib": "peak memory (MiB)"},
                           fmt={"rate": ".4g", "peak_mib": ".0f"})
    name = torch.cuda.get_device_name(device) if gpu else "CPU"
    summary = (f"### SCALE benchmark ({name}{', quick: not meaningful' if quick else ''})\n\n{table}\n\n"
               f"SCALE trains **{ratio:,.0f}x** more samples/s than the backbone trains clips/s (thesis Table 4.1 "
               f"on a 3090: 9,224 vs 33.5 = 275x), **{ratio * CLIPS:,.0f}x** counting the same {CLIPS} clips "
               f"per sample. Peak memory: {'CUDA allocated' if gpu else 'process peak RSS'}.\n")
    result = {"device": name, "quick": quick, "scale": scale, "backbone": backbone, "ratio_vs_backbone_clips": ratio,
              "ratio_same_clips": ratio * CLIPS}
    (out_dir / "scale_bench.json").write_text(json.dumps(result, indent=2))
    (out_dir / "scale_bench.md").write_text(summary)
    headline = {"samples_per_s": scale["samples_per_s"], "backbone_clips_per_s": backbone["clips_per_s"],
                "ratio_vs_backbone": ratio}
    if scale["peak_mib"] is not None:
        headline["peak_mib"] = scale["peak_mib"]
    return StageResult(metrics=headline, summary=summary, details=result,
                       outputs=[str(out_dir / "scale_bench.json"), str(out_dir / "scale_bench.md")])
