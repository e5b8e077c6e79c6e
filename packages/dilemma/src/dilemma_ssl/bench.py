"""Benchmark: epoch time and peak memory of MoCo v3 + DILEMMA (random schedule) relative to dense MoCo v3.

For each sparsity ratio r of the schedule, one full training step (teacher + student forward, backward, AdamW,
EMA) runs at batch ``b_r = base * multiplier(r)`` on synthetic images. Every ratio's step is built first, then
all are timed in interleaved rounds (r = 0, 0.4, 0.55, 0.65, 0, ...) after warm-up, torch's threads pinned
(:func:`sparse_core.timing.interleave`). An epoch of N images costs ``N * t_0 / b_0`` dense and
``N * mean_r(t_r) / mean_r(b_r)`` under the random schedule (each ratio equally likely), so the ratio printed
is ``(mean_r t_r / mean_r b_r) / (t_0 / b_0)`` computed within each round, then the median over the rounds
(thesis Table 3.12: 0.65x on GPUs); the load average is written beside it. Peak memory (CUDA only), of one
more untimed step per ratio, is the maximum over the schedule relative to the dense step.

``quick=True`` (or no GPU) uses a small ViT at 64 px so it runs on a CPU in about a minute; otherwise ViT-S/16
at 224 px with base batch 64.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Mapping
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
from sparse_core.timing import MIN_PAIRS, cuda_allocated, interleave, peak_cuda_gib, training_step_fn

__all__ = ["epoch_ratio_of_round", "epoch_time_ratio", "learning_sanity", "run"]

DENSE = "0"
"""The dense step's variant name (sparsity ratio 0)."""


def _variants(model: ModelConfig, method: MethodConfig, base: int, device: torch.device
              ) -> tuple[dict[str, Callable[[], None]], dict[str, dict[str, Any]]]:
    """Every ratio's optimizer step (dense first; built before any is timed) and its batch and peak memory."""
    pairs = list(zip(method.sparsity, method.batch_multipliers))
    if 0.0 not in method.sparsity:  # the dense reference, outside the schedule's mean
        pairs.insert(0, (0.0, 1))
    pairs.sort(key=lambda rm: rm[0] != 0.0)
    steps: dict[str, Callable[[], None]] = {}
    info: dict[str, dict[str, Any]] = {}
    for r, m in pairs:
        since = cuda_allocated(device)
        torch.manual_seed(0)
        task = MoCoV3DilemmaTask(model, method, SparsitySchedule.constant(base, r, m), seed=0).to(device)
        b, img = base * m, model.img_size
        views = {"views": [torch.randn(b, 3, img, img, device=device) for _ in range(2)]}
        steps[f"{r:g}"] = training_step_fn(task, views, device, step=1)
        info[f"{r:g}"] = {"batch": b, "peak_gib": peak_cuda_gib(steps[f"{r:g}"], device, since)}
    return steps, info


def epoch_ratio_of_round(times: Mapping[str, float], batches: Mapping[str, int], schedule: list[str]) -> float:
    """``(mean_r t_r / mean_r b_r) / (t_0 / b_0)`` over the ``schedule``'s ratios, for one round's ``times``."""
    mean_t = statistics.mean(times[k] for k in schedule)
    mean_b = statistics.mean(batches[k] for k in schedule)
    return (mean_t / mean_b) / (times[DENSE] / batches[DENSE])


def epoch_time_ratio(model: ModelConfig, base: int, device: torch.device, repeats: int,
                     warmup: int = 2, method: MethodConfig | None = None,
                     clock: Callable[[], float] = time.perf_counter, threads: int | None = None) -> dict[str, Any]:
    """Epoch-time ratio of MoCo v3 + DILEMMA (random schedule) to dense MoCo v3 (the bench's and GPU suite's row).

    Args:
        model: Backbone and heads (ViT-S/16 at 224 px on the GPU: ``ModelConfig(head_norm="bn")``).
        base: Base batch of the dense step; ratio r runs at ``base * multiplier(r)`` (same memory budget).
        device: Where to run.
        repeats: Timed interleaved rounds (raised to :data:`~sparse_core.timing.MIN_PAIRS` if fewer).
        warmup: Untimed rounds first.
        method: the sparse method (default: MoCo v3 + DILEMMA with the thesis schedule); the dense step is
            its ratio-0 step (added outside the schedule if it has none).
        clock: wall-clock by default; a test passes a fake one.
        threads: torch's intra-op threads while timing (default: the current count).

    Returns:
        ``per_ratio`` (batch, step_s = median over rounds, images_per_s, peak_gib per sparsity ratio),
        ``epoch_time_ratio`` (the median over rounds of :func:`epoch_ratio_of_round`; thesis Table 3.12:
        0.65x), ``peak_memory_ratio`` on CUDA, ``timing`` (every round's times, threads, load averages) and
        ``timing_note`` (:meth:`~sparse_core.timing.Interleaved.describe`).
    """
    method = method or MethodConfig()
    steps, info = _variants(model, method, base, device)
    timing = interleave(steps, device, base=DENSE, pairs=max(repeats, MIN_PAIRS), warmup=warmup, threads=threads,
                        clock=clock)
    schedule = [f"{r:g}" for r in method.sparsity]
    batches = {k: v["batch"] for k, v in info.items()}
    per_ratio = {k: {**v, "step_s": timing.median(k), "images_per_s": v["batch"] / timing.median(k)}
                 for k, v in info.items()}
    peaks = [per_ratio[k]["peak_gib"] for k in schedule if per_ratio[k]["peak_gib"] is not None]
    dense_peak = per_ratio[DENSE]["peak_gib"]
    return {
        "per_ratio": per_ratio,
        "epoch_time_ratio": timing.round_median(lambda t: epoch_ratio_of_round(t, batches, schedule)),
        "peak_memory_ratio": max(peaks) / dense_peak if peaks and dense_peak else None,
        "model": f"{model.arch} {model.img_size}px patch {model.patch_size}",
        "base_batch": base,
        "timing": timing.to_dict(),
        "timing_note": timing.describe(),
    }


def run(out_dir: Path, quick: bool = False) -> StageResult:
    """Measure, print a table and write ``out_dir/dilemma.json``; headline: epoch-time and memory ratios."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    small = quick or device.type == "cpu"
    if small:
        model, base, repeats = small_vit(img_size=64, patch_size=8), 8, MIN_PAIRS
    else:
        model, base, repeats = ModelConfig(head_norm="bn"), 64, 10  # ViT-S/16 (12 heads), 224 px, MoCo v3 heads
    res = epoch_time_ratio(model, base, device, repeats)
    res.update(device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               model="tiny-64px" if small else "ViT-S/16-224")
    rows = [{"sparsity": f"{float(k):.0%}", "batch": v["batch"], "step (s)": v["step_s"],
             "images/s": v["images_per_s"], "peak mem (GiB)": float("nan") if v["peak_gib"] is None else v["peak_gib"]}
            for k, v in res["per_ratio"].items()]
    table = markdown_table(rows, ["sparsity", "batch", "step (s)", "images/s", "peak mem (GiB)"])
    text = (
        f"DILEMMA bench on {res['device']} ({res['model']}, base batch {base}):\n{table}\n"
        f"epoch time +DILEMMA (random schedule) / dense MoCo v3: {res['epoch_time_ratio']:.2f}x "
        "(thesis: 0.65x; target <= 0.60x)"
        + (f"; peak memory ratio {res['peak_memory_ratio']:.2f}x" if res.get("peak_memory_ratio") else "")
        + f"\n{res['timing_note']}"
    )
    print(text)
    res["summary"] = text
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "dilemma.json").write_text(json.dumps(res, indent=2))
    headline = {k: res[k] for k in ("epoch_time_ratio", "peak_memory_ratio") if res.get(k) is not None}
    details = {k: v for k, v in res.items() if k != "summary"}
    return StageResult(metrics=headline, summary=text, outputs=[str(out_dir / "dilemma.json")], details=details)


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
