"""SCALE benchmark (``nox -s bench``; never a test): training throughput on stored features vs the backbone.

1. SCALE training samples/s (a sample: one video's 16 stored clip features and boxes; forward of the
   predictor on two sets of 8, MCM + SET losses, backward, AdamW; data already in device memory as in
   training) and peak memory, at batch 2048 (thesis Table 4.1: 9,224 samples/s and 19.5 GB on one 3090,
   ViT-B features).
2. The backbone run end to end on the same clips: a ViT-B video encoder (sparse-core's VideoViT,
   16 x 224^2 clips), forward + backward + AdamW, clips/s (Table 4.1's VMAE row: 33.5 samples/s).
   Ratios: SCALE samples/s over backbone clips/s (Table 4.1's comparison) and over backbone samples/s
   where a sample is the same 16 clips.

Both steps are built first, then timed in interleaved rounds (backbone, SCALE, backbone, ...) after
warm-up, torch's threads pinned (:func:`sparse_core.timing.interleave`); the ratio is computed within each
round, then the median over at least 5 rounds, with the load average written beside it. SCALE's peak memory
comes from one more untimed step.
``quick=True`` uses batch 256 and a small backbone (smoke run; numbers not meaningful). On a CPU the
backbone is timed on one clip per step.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from scale_video.data import FeatureBank
from scale_video.model import PredictorConfig
from scale_video.task import LossConfig, SCALETask
from sparse_core.models.video_vit import VideoViT
from sparse_core.report import markdown_table
from sparse_core.suite import StageResult
from sparse_core.timing import (
    MIN_PAIRS,
    cuda_allocated,
    interleave,
    peak_cuda_gib,
    training_step_fn,
    training_step_time,
)

__all__ = ["compare", "run", "scale_rate"]

CLIPS, FEAT_DIM = 16, 768  # 16 stored clips per video, ViT-B features (Table 4.1)


def _cpu_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS (Linux: KiB)


def _scale_task(batch: int, device: torch.device, dim: int) -> tuple[SCALETask, dict[str, torch.Tensor]]:
    """A SCALE task on a random bank of ``2 * batch`` stored videos, and a batch of ``batch`` of them."""
    g = torch.Generator().manual_seed(0)
    n = 2 * batch
    bank = FeatureBank(torch.randn(n, CLIPS, dim, generator=g).half(), torch.rand(n, CLIPS, 6, generator=g),
                       torch.zeros(n, dtype=torch.long), torch.arange(n)).to(device)
    torch.manual_seed(0)
    return SCALETask(bank, PredictorConfig(), LossConfig()).to(device), {"index": torch.arange(batch, device=device)}


def scale_rate(batch: int, device: torch.device, repeats: int, dim: int = FEAT_DIM) -> dict[str, Any]:
    """Samples/s and peak memory of SCALE training steps at ``batch`` on ``device`` (the GPU suite's row)."""
    task, data = _scale_task(batch, device, dim)
    seconds, peak_gib = training_step_time(task, data, device, repeats)
    peak = peak_gib * 1024 if peak_gib is not None else _cpu_peak_mib()
    return {"batch": batch, "step_s": seconds, "samples_per_s": batch / seconds, "peak_mib": peak}


def _backbone_step(device: torch.device, clips: int, quick: bool) -> Callable[[], None]:
    """One training step (forward + backward + AdamW) of a ViT-B video backbone on ``clips`` clips."""
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

    return step


def compare(batch: int, clips: int, device: torch.device, pairs: int, quick: bool, dim: int = FEAT_DIM,
            threads: int | None = None, clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """SCALE's training step vs the backbone's, both built first, then timed in interleaved rounds.

    Args:
        batch: SCALE samples per step.
        clips: backbone clips per step.
        device: where both run.
        pairs: timed rounds (raised to :data:`~sparse_core.timing.MIN_PAIRS`).
        quick: the tiny backbone.
        dim: stored feature width.
        threads: torch's intra-op threads while timing (default: the current count).
        clock: seconds clock (a test passes a fake one).

    Returns:
        ``scale`` (batch, step_s median, samples_per_s, peak_mib of one untimed step), ``backbone`` (clips,
        step_s, clips_per_s), ``ratio_vs_backbone_clips`` (SCALE samples/s over backbone clips/s within each
        round, then the median), ``timing`` and ``timing_note``.
    """
    since = cuda_allocated(device)
    task, data = _scale_task(batch, device, dim)
    scale_step = training_step_fn(task, data, device)
    peak_gib = peak_cuda_gib(scale_step, device, since)
    peak = peak_gib * 1024 if peak_gib is not None else _cpu_peak_mib()
    backbone_step = _backbone_step(device, clips, quick)
    timing = interleave({"backbone": backbone_step, "scale": scale_step}, device, pairs=max(pairs, MIN_PAIRS),
                        warmup=1, threads=threads, clock=clock)
    t_scale, t_bb = timing.median("scale"), timing.median("backbone")
    return {"scale": {"batch": batch, "step_s": t_scale, "samples_per_s": batch / t_scale, "peak_mib": peak},
            "backbone": {"clips": clips, "step_s": t_bb, "clips_per_s": clips / t_bb},
            "ratio_vs_backbone_clips": timing.round_median(lambda r: (batch / r["scale"]) / (clips / r["backbone"])),
            "timing": timing.to_dict(), "timing_note": timing.describe()}


def run(out_dir: Path, quick: bool = False) -> StageResult:
    """Run the benchmark into ``out_dir``; headline: SCALE samples/s, backbone clips/s and their ratios."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gpu = device.type == "cuda"
    batch = 256 if quick else 2048
    bb_clips = (16 if gpu else 1) if not quick else 4
    res = compare(batch, bb_clips, device, pairs=10 if gpu and not quick else MIN_PAIRS, quick=quick)
    scale, backbone, ratio = res["scale"], res["backbone"], res["ratio_vs_backbone_clips"]
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
               f"per sample. Peak memory: {'CUDA allocated' if gpu else 'process peak RSS'}.\n\n{res['timing_note']}\n")
    result = {"device": name, "quick": quick, "scale": scale, "backbone": backbone, "ratio_vs_backbone_clips": ratio,
              "ratio_same_clips": ratio * CLIPS, "timing": res["timing"]}
    (out_dir / "scale_bench.json").write_text(json.dumps(result, indent=2))
    (out_dir / "scale_bench.md").write_text(summary)
    headline = {"samples_per_s": scale["samples_per_s"], "backbone_clips_per_s": backbone["clips_per_s"],
                "ratio_vs_backbone": ratio}
    if scale["peak_mib"] is not None:
        headline["peak_mib"] = scale["peak_mib"]
    return StageResult(metrics=headline, summary=summary, details=result,
                       outputs=[str(out_dir / "scale_bench.json"), str(out_dir / "scale_bench.md")])
