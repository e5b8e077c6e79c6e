"""Benchmarks of RIVER (``nox -s bench``; never tests).

1. Cost of one function evaluation (NFE) and of predicting 16 frames
at 64x64 (8x8x4 latents, f8) as the number
   of past frames grows: RIVER's two sampled conditions vs a baseline conditioning on all past frames
   (:class:`~river_vp.baselines.AllPastVectorField`); the ratio grows with the context length.
2. Frames per second of sampling: Euler with 10 / 100 steps, warm start s = 0.1 / 0.5.
3. Training steps per second and peak memory of the BAIR64 flow config.

On a GPU the BAIR64 architecture (width 768, 13 blocks) is used; on a CPU (or ``quick``) a small one, so the
ratios, not the absolute times, are what carries over. The all-past / RIVER ratios of (1) come from interleaved
rounds (RIVER, all-past, RIVER, ...) after warm-up, torch's threads pinned
(:func:`sparse_core.timing.interleave`): the median over at least 5 rounds of the ratio within a round, the
load average written beside it. The rates of (2) and (3) are medians of repeated timings.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import torch

from river_vp.baselines import AllPastVectorField
from river_vp.flow.conditioning import ConditionSpec
from river_vp.flow.rollout import predict_future
from river_vp.flow.sampler import SamplerConfig
from river_vp.models.uvit import VectorFieldConfig, VectorFieldRegressor
from river_vp.tasks.flow import RiverTask
from sparse_core.report import markdown_table
from sparse_core.suite import StageResult
from sparse_core.timing import MIN_PAIRS, interleave, median_time

__all__ = ["prediction_cost", "run"]


def _model_cfg(big: bool) -> VectorFieldConfig:
    if big:
        return VectorFieldConfig(
            state_channels=4, state_size=8, width=768, depth_in=4, depth_mid=5, num_heads=12
        )
    return VectorFieldConfig(state_channels=4, state_size=8, width=128, depth_in=1, depth_mid=1, num_heads=4)


@torch.no_grad()
def _context_scaling(
    cfg: VectorFieldConfig,
    device: torch.device,
    contexts: list[int],
    steps: int,
    repeats: int,
    dtype: torch.dtype,
) -> list[dict[str, Any]]:
    """Per past-frame count: NFE and 16-frame rollout times of RIVER and all-past, interleaved, and the ratios."""
    river = VectorFieldRegressor(cfg).to(device, dtype).eval()
    allpast = AllPastVectorField(cfg).to(device, dtype).eval()
    allpast.load_state_dict(river.state_dict(), strict=False)  # all but the channel fusion
    b, shape = 1, (cfg.state_channels, cfg.state_size, cfg.state_size)
    rows = []
    for k in contexts:
        z = torch.randn(b, *shape, device=device, dtype=dtype)
        t = torch.rand(b, device=device, dtype=dtype)
        past = torch.randn(b, k, *shape, device=device, dtype=dtype)
        ones = torch.ones(b, 2, device=device)
        dists = torch.arange(k, 0, -1, device=device).expand(b, k)
        nfe = interleave({"river": partial(river, z, t, past[:, -2:], ones),
                          "allpast": partial(allpast, z, t, past, dists)}, device, base="allpast",
                         pairs=max(repeats, MIN_PAIRS), warmup=1)
        gen = torch.Generator().manual_seed(0)
        sampler = SamplerConfig(steps=steps)
        rollout = partial(predict_future, river, past, 16, ConditionSpec(), sampler, gen)

        def allpast_rollout(past: torch.Tensor = past) -> None:
            frames = past
            for _ in range(16):
                n = frames.shape[1]
                d = torch.arange(n, 0, -1, device=device).expand(b, n)
                zz = torch.randn(b, *shape, device=device, dtype=dtype)
                for i in range(steps):
                    tt = torch.full((b,), i / steps, device=device, dtype=dtype)
                    zz = zz + allpast(zz, tt, frames, d) / steps
                frames = torch.cat([frames, zz[:, None]], 1)

        pred = interleave({"river": rollout, "allpast": allpast_rollout}, device, base="allpast",
                          pairs=max(repeats // 5, MIN_PAIRS), warmup=1)
        rows.append(
            {
                "past_frames": k,
                "nfe_river_ms": nfe.median("river") * 1e3,
                "nfe_allpast_ms": nfe.median("allpast") * 1e3,
                "nfe_ratio": nfe.ratio("river"),  # all-past time over RIVER's, within each round
                "predict16_river_s": pred.median("river"),
                "predict16_allpast_s": pred.median("allpast"),
                "predict16_ratio": pred.ratio("river"),
                "timing": {"nfe": nfe.to_dict(), "predict16": pred.to_dict()},
                "timing_note": f"{k} past frames, NFE {nfe.describe()}; 16 frames {pred.describe()}",
            }
        )
    return rows


@torch.no_grad()
def _sampling_speed(
    cfg: VectorFieldConfig, device: torch.device, batch: int, dtype: torch.dtype, repeats: int
) -> list[dict[str, float]]:
    model = VectorFieldRegressor(cfg).to(device, dtype).eval()
    shape = (cfg.state_channels, cfg.state_size, cfg.state_size)
    ctx = torch.randn(batch, 4, *shape, device=device, dtype=dtype)
    rows = []
    for steps, s in ((10, 0.0), (100, 0.0), (10, 0.1), (10, 0.5), (100, 0.1), (100, 0.5)):
        sampler = SamplerConfig(steps=steps, warm_start=s)
        gen = torch.Generator().manual_seed(0)
        sec = median_time(
            partial(predict_future, model, ctx, 4, ConditionSpec(), sampler, gen),
            device,
            repeats,
        )
        rows.append({"steps": steps, "warm_start": s, "frames_per_s": 4 * batch / sec})
    return rows


def _training_speed(
    cfg: VectorFieldConfig, device: torch.device, batch: int, steps: int, precision: torch.dtype | None
) -> dict[str, float]:
    task = RiverTask(cfg).to(device)
    opt = torch.optim.AdamW(task.parameters(), lr=1e-4)
    shape = (cfg.state_channels, cfg.state_size, cfg.state_size)
    data = {
        "target": torch.randn(batch, *shape, device=device),
        "conds": torch.randn(batch, 2, *shape, device=device),
        "dists": torch.randint(1, 16, (batch, 2), device=device),
    }
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def step() -> None:
        with torch.autocast(device.type, dtype=precision, enabled=precision is not None):
            loss = task.training_step(data, 0)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    sec = median_time(step, device, steps, warmup=2)
    out = {
        "batch_size": batch,
        "steps_per_s": 1 / sec,
        "params_M": sum(p.numel() for p in task.parameters()) / 1e6,
    }
    if device.type == "cuda":
        out["peak_mem_GB"] = torch.cuda.max_memory_allocated() / 1e9
    return out


def run(out_dir: Path, quick: bool = False) -> StageResult:
    """Run the three benchmarks; prints tables and writes ``out_dir/river.json``; headline: all-past / RIVER cost."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    big = device.type == "cuda" and not quick
    cfg = _model_cfg(big)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    contexts = [2, 4, 8, 16, 32, 64] if not quick else [2, 8, 32]
    steps = 10 if not quick else 2
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "model": {"width": cfg.width, "blocks": 2 * cfg.depth_in + cfg.depth_mid},
        "euler_steps_for_prediction": steps,
    }
    result["context_scaling"] = _context_scaling(cfg, device, contexts, steps, 10 if not quick else 3, dtype)
    result["sampling"] = _sampling_speed(cfg, device, 16 if big else 4, dtype, 3 if not quick else 1)
    result["training"] = _training_speed(
        cfg,
        device,
        64 if big else 8,
        10 if not quick else 3,
        torch.bfloat16 if device.type == "cuda" else None,
    )
    (out_dir / "river.json").write_text(json.dumps(result, indent=1))
    scaling = markdown_table(
        result["context_scaling"],
        {"past_frames": "past frames", "nfe_river_ms": "NFE river (ms)", "nfe_allpast_ms": "NFE all-past (ms)",
         "nfe_ratio": "ratio", "predict16_river_s": "16 frames river (s)", "predict16_allpast_s": "all-past (s)",
         "predict16_ratio": "ratio"},
        fmt={"predict16_river_s": ".3f", "predict16_allpast_s": ".3f"},
    )
    sampling = markdown_table(result["sampling"],
                              {"steps": "Euler steps", "warm_start": "warm start s", "frames_per_s": "frames/s"},
                              fmt={"warm_start": "g", "frames_per_s": ".1f"})
    notes = "\n".join(r["timing_note"] for r in result["context_scaling"])
    text = (f"RIVER bench on {result['device']} (width {cfg.width}, {result['model']['blocks']} blocks)\n"
            f"{scaling}\n{notes}\n{sampling}\ntraining: {result['training']}")
    print(text)
    last = result["context_scaling"][-1]
    headline = {"nfe_ratio_allpast_vs_river": last["nfe_ratio"], "predict16_ratio": last["predict16_ratio"],
                "context_frames": last["past_frames"]}
    return StageResult(metrics=headline, summary=text, outputs=[str(out_dir / "river.json")], details=result)


def prediction_cost(device: torch.device, paper_scale: bool, contexts: list[int], steps: int = 10,
                    repeats: int = 10) -> dict[str, Any]:
    """Wall time to predict 16 frames and the all-past / RIVER conditioning cost (the GPU suite's row).

    Args:
        device: Where to run (bf16 weights on CUDA, fp32 elsewhere).
        paper_scale: The BAIR64 vector field (width 768, 13 blocks) instead of the small CPU one.
        contexts: Numbers of past frames (e.g. ``[8, 32]``).
        steps: Euler steps per predicted frame (the thesis' Euler-10).
        repeats: Timed interleaved rounds per NFE (the 16-frame rollouts use ``repeats // 5``; both at least
            :data:`~sparse_core.timing.MIN_PAIRS`).

    Returns:
        ``rows`` (per past-frame count: NFE ms and 16-frame seconds of both models, medians over the
        rounds, their ratios, the median of the ratios within a round, and ``timing`` with every round),
        ``model`` (width, blocks), ``euler_steps``.
    """
    cfg = _model_cfg(paper_scale)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    rows = _context_scaling(cfg, device, contexts, steps, repeats, dtype)
    return {"rows": rows, "model": {"width": cfg.width, "blocks": 2 * cfg.depth_in + cfg.depth_mid},
            "euler_steps": steps}
