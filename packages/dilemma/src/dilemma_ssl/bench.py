"""Benchmark: epoch time and peak memory of MoCo v3 + DILEMMA (random schedule) relative to dense MoCo v3.

For each sparsity ratio r of the schedule, one full training step (teacher + student forward, backward, AdamW,
EMA) runs at batch ``base * multiplier(r)`` on synthetic images; its median time t_r gives images/s. An epoch
of N images costs ``N * t_0 / b_0`` dense and ``N * mean_r(t_r) / mean_r(b_r)`` under the random schedule
(each ratio equally likely), so the ratio printed is ``(mean t_r / mean b_r) / (t_0 / b_0)`` (thesis
Table 3.12: 0.65x on GPUs). Peak memory (CUDA only) is the maximum over the schedule relative to the dense
step.

``quick=True`` (or no GPU) uses a small ViT at 64 px so it runs on a CPU in about a minute; otherwise ViT-S/16
at 224 px with base batch 64.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from dilemma_ssl import evaluate as ev
from dilemma_ssl.config import DilemmaRunConfig, MethodConfig, ModelConfig
from dilemma_ssl.data import build_eval_datasets
from dilemma_ssl.presets import small_vit
from dilemma_ssl.runner import CONFIG_DIR, train_from_init
from dilemma_ssl.schedule import SparsitySchedule
from dilemma_ssl.variants.mocov3 import MoCoV3DilemmaTask
from sparse_core.config import parse_config
from sparse_core.report import markdown_table
from sparse_core.suite import StageResult
from sparse_core.timing import training_step_time

__all__ = ["epoch_time_ratio", "learning_sanity", "run", "time_step"]


def time_step(
    task: MoCoV3DilemmaTask,
    batch: int,
    img: int,
    step: int,
    device: torch.device,
    repeats: int,
    warmup: int = 2,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, float | None]:
    """Median seconds of one optimizer step at ``batch`` images, and peak CUDA memory in GiB (None on CPU)."""
    views = {"views": [torch.randn(batch, 3, img, img, device=device) for _ in range(2)]}
    return training_step_time(task, views, device, repeats, warmup, step=step, clock=clock)


def run(out_dir: Path, quick: bool = False) -> StageResult:
    """Measure, print a table and write ``out_dir/dilemma.json``; headline: epoch-time and memory ratios."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    small = quick or device.type == "cpu"
    if small:
        model = small_vit(img_size=64, patch_size=8)
        base, repeats = 8, 3
    else:
        model = ModelConfig(head_norm="bn")  # ViT-S/16 (12 heads), 224 px, MoCo v3 heads
        base, repeats = 64, 10
    method = MethodConfig()
    ratios, mults = method.sparsity, method.batch_multipliers
    rows, per_ratio = [], {}
    for r, m in zip(ratios, mults):
        torch.manual_seed(0)
        task = MoCoV3DilemmaTask(model, method, SparsitySchedule.constant(base, r, m), seed=0).to(device)
        b = base * m
        t, peak = time_step(task, b, model.img_size, 1, device, repeats)
        per_ratio[r] = {"batch": b, "step_s": t, "images_per_s": b / t, "peak_gib": peak}
        rows.append(
            {
                "sparsity": f"{r:.0%}",
                "batch": b,
                "step (s)": t,
                "images/s": b / t,
                "peak mem (GiB)": float("nan") if peak is None else peak,
            }
        )
        del task
        if device.type == "cuda":
            torch.cuda.empty_cache()
    dense = per_ratio[ratios[0]] if ratios[0] == 0.0 else None
    mean_t = statistics.mean(v["step_s"] for v in per_ratio.values())
    mean_b = statistics.mean(v["batch"] for v in per_ratio.values())
    res: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "model": "tiny-64px" if small else "ViT-S/16-224",
        "base_batch": base,
        "per_ratio": {f"{k:g}": v for k, v in per_ratio.items()},
    }
    if dense is not None:
        res["epoch_time_ratio"] = (mean_t / mean_b) / (dense["step_s"] / dense["batch"])
        peaks = [v["peak_gib"] for v in per_ratio.values() if v["peak_gib"] is not None]
        res["peak_memory_ratio"] = max(peaks) / dense["peak_gib"] if peaks and dense["peak_gib"] else None
    table = markdown_table(rows, ["sparsity", "batch", "step (s)", "images/s", "peak mem (GiB)"])
    ratio = res.get("epoch_time_ratio")
    text = (
        f"DILEMMA bench on {res['device']} ({res['model']}, base batch {base}):\n{table}\n"
        f"epoch time +DILEMMA (random schedule) / dense MoCo v3: {ratio:.2f}x "
        "(thesis: 0.65x; target <= 0.60x)"
        + (f"; peak memory ratio {res['peak_memory_ratio']:.2f}x" if res.get("peak_memory_ratio") else "")
    )
    print(text)
    res["summary"] = text
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "dilemma.json").write_text(json.dumps(res, indent=2))
    headline = {k: res[k] for k in ("epoch_time_ratio", "peak_memory_ratio") if res.get(k) is not None}
    details = {k: v for k, v in res.items() if k != "summary"}
    return StageResult(metrics=headline, summary=text, outputs=[str(out_dir / "dilemma.json")], details=details)


def epoch_time_ratio(model: ModelConfig, base: int, device: torch.device, repeats: int,
                     warmup: int = 2, method: MethodConfig | None = None,
                     clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Epoch-time ratio of MoCo v3 + DILEMMA (random schedule) to dense MoCo v3 (the GPU suite's row).

    Args:
        model: Backbone and heads (ViT-S/16 at 224 px on the GPU: ``ModelConfig(head_norm="bn")``).
        base: Base batch of the dense step; ratio r runs at ``base * multiplier(r)`` (same memory budget).
        device: Where to run.
        repeats: Timed steps per ratio.
        warmup: Untimed steps per ratio.
        method: the sparse method (default: MoCo v3 + DILEMMA with the thesis schedule); the dense step is
            its ratio-0 step.
        clock: wall-clock by default; ``time.process_time`` for CPU time on a machine shared with other jobs.

    Returns:
        ``per_ratio`` (batch, step_s, images_per_s, peak_gib per sparsity ratio) and ``epoch_time_ratio``
        ``(mean t_r / mean b_r) / (t_0 / b_0)`` (thesis Table 3.12: 0.65x), ``peak_memory_ratio`` on CUDA.
    """
    method = method or MethodConfig()
    per_ratio: dict[float, dict[str, Any]] = {}
    for r, m in zip(method.sparsity, method.batch_multipliers):
        torch.manual_seed(0)
        task = MoCoV3DilemmaTask(model, method, SparsitySchedule.constant(base, r, m), seed=0).to(device)
        t, peak = time_step(task, base * m, model.img_size, 1, device, repeats, warmup, clock)
        per_ratio[r] = {"batch": base * m, "step_s": t, "images_per_s": base * m / t, "peak_gib": peak}
        del task
        if device.type == "cuda":
            torch.cuda.empty_cache()
    dense = per_ratio[0.0]
    mean_t = statistics.mean(v["step_s"] for v in per_ratio.values())
    mean_b = statistics.mean(v["batch"] for v in per_ratio.values())
    peaks = [v["peak_gib"] for v in per_ratio.values() if v["peak_gib"] is not None]
    return {
        "per_ratio": {f"{k:g}": v for k, v in per_ratio.items()},
        "epoch_time_ratio": (mean_t / mean_b) / (dense["step_s"] / dense["batch"]),
        "peak_memory_ratio": max(peaks) / dense["peak_gib"] if peaks and dense["peak_gib"] else None,
        "model": f"{model.arch} {model.img_size}px patch {model.patch_size}",
        "base_batch": base,
    }


def learning_sanity(out_dir: Path, overrides: list[str]) -> dict[str, Any]:
    """Train MoCo v3 + DILEMMA briefly and report k-NN top-1 of the backbone before and after training.

    Args:
        out_dir: The training run's folder.
        overrides: Command-line overrides on top of the shipped ``tiny`` config (e.g. a larger ViT, more
            steps, ``--train.precision bf16``).

    Returns:
        ``knn_before`` / ``knn_after`` (weighted k-NN top-1 %, same seed so "before" is the run's own
        initialisation), ``steps``, ``train_s`` and the final ``loss`` when logged.
    """
    argv = ["--config", "tiny", "--train.out_dir", str(out_dir), "--train.resume", "none", *overrides]
    cfg = parse_config(DilemmaRunConfig, argv, config_dir=CONFIG_DIR)
    train_ds, test_ds = build_eval_datasets(cfg.data, cfg.model)
    train_ds = ev.subsample(train_ds, cfg.eval.max_train_samples)

    def knn(task: Any) -> float:
        task.eval()
        backbone = task.backbone
        tr, te = ev.features(backbone, train_ds), ev.features(backbone, test_ds)
        return ev.knn_eval(tr, te, cfg.eval.knn_k, cfg.eval.knn_t)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    initial, trained, result, train_s = train_from_init(cfg)
    before, after = knn(initial.to(device)), knn(trained.to(device))
    return {"knn_before": before, "knn_after": after, "steps": result["train"].get("steps"), "train_s": train_s,
            "model": f"{cfg.model.arch} embed {cfg.model.embed_dim} depth {cfg.model.depth} {cfg.model.img_size}px"}
