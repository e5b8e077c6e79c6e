"""The GPU benchmark-and-sanity suite: every method's GPU headline in one prepared run (issue 14).

``python -m sparse_core.gpu_suite --out bench-results`` (or ``nox -s bench -- --gpu``) runs the rows of
:data:`ROWS` in order on CUDA; each row is isolated (an exception or its time budget ends that row only, and is
reported), and ``gpu_suite.json`` (every row's numbers) and ``gpu_suite.md`` (the summary) are rewritten
after every row, so a run killed by a timeout keeps what finished (two files: the device tool returns few).
``--dry-run`` runs every row at toy size on the CPU in seconds (a test does), so GPU minutes go to measuring,
not debugging. The rows reuse the packages' own bench functions; times are medians after warm-up
(:mod:`sparse_core.timing`); MFU uses FLOPs counted by ``torch.utils.flop_counter`` against the device's
dense bf16 peak (:func:`sparse_core.bench.peak_bf16_flops`).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import signal
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sparse_core.report import markdown_table

__all__ = ["ROWS", "Row", "RowContext", "RowTimeout", "main", "run_suite", "time_limit"]

TOTAL_BUDGET_S = 450.0  # 7.5 min of rows: the whole suite, start-up included, fits in 8 min


class RowTimeout(Exception):
    """A row ran past its time budget."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`RowTimeout` in the main thread after ``seconds`` (SIGALRM; a no-op where unavailable)."""
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise RowTimeout(f"row ran past its budget of {seconds:.0f} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class RowContext:
    """What a row needs: the device, toy size or not, and a scratch folder."""

    device: torch.device
    dry: bool
    scratch: Path


@dataclass
class Row:
    """One suite row: a name, a time budget on the GPU and the function that measures it."""

    name: str
    budget_s: float
    fn: Callable[[RowContext], dict[str, Any]]
    target: str = ""
    """What the issue / thesis asks of the headline (shown in the summary)."""


# ---------------------------------------------------------------------- rows
def _core(size: str, compiled: bool) -> Callable[[RowContext], dict[str, Any]]:
    def fn(ctx: RowContext) -> dict[str, Any]:
        from sparse_core.bench import bench_model

        keeps = (1.0, 0.35, 0.15, 0.05)
        if ctx.dry:
            rows = bench_model("tiny", keeps, 2, ctx.device, img_size=32, depth=1, warmup=1, repeats=1,
                               compile_mode="default" if compiled else None, compile_backend="eager")
        else:
            batch = {"small": 512, "base": 256}[size]
            rows = bench_model(size, keeps, batch, ctx.device, warmup=5, repeats=20,
                               compile_mode="default" if compiled else None)
        dense = rows[0]
        return {"rows": rows, "headline": {"mfu_dense": dense["mfu"], "images_per_s_dense": dense["images_per_s"],
                                           "efficiency_keep0.35": rows[1]["efficiency"]}}

    return fn


def _dilemma(ctx: RowContext) -> dict[str, Any]:
    from dilemma_ssl.bench import epoch_time_ratio
    from dilemma_ssl.config import ModelConfig
    from dilemma_ssl.presets import small_vit

    if ctx.dry:
        res = epoch_time_ratio(small_vit(img_size=16, patch_size=8, depth=1), 2, ctx.device, repeats=1, warmup=1)
    else:
        res = epoch_time_ratio(ModelConfig(head_norm="bn"), 64, ctx.device, repeats=10)
    return {**res, "headline": {"epoch_time_ratio": res["epoch_time_ratio"]}}


def _vidrop(ctx: RowContext) -> dict[str, Any]:
    from vidrop.bench import bench_training

    rows = bench_training(quick=ctx.dry, steps=1 if ctx.dry else 10)
    return {"rows": rows, "headline": {f"speedup_drop{r['drop_rate']:g}": r["speedup_vs_dense"] for r in rows}}


def _river(ctx: RowContext) -> dict[str, Any]:
    from river_vp.bench import prediction_cost

    if ctx.dry:
        res = prediction_cost(ctx.device, paper_scale=False, contexts=[2, 4], steps=1, repeats=1)
    else:
        res = prediction_cost(ctx.device, paper_scale=True, contexts=[8, 32], steps=10, repeats=10)
    head = {"predict16_s": res["rows"][0]["predict16_river_s"]}
    head.update({f"allpast_ratio_{r['past_frames']}": r["predict16_ratio"] for r in res["rows"]})
    return {**res, "headline": head}


def _scale(ctx: RowContext) -> dict[str, Any]:
    from scale_video.bench import scale_rate

    res = scale_rate(4, ctx.device, repeats=1, dim=32) if ctx.dry else scale_rate(2048, ctx.device, repeats=10)
    return {**res, "headline": {"samples_per_s": res["samples_per_s"]}}


def _sanity(ctx: RowContext) -> dict[str, Any]:
    from dilemma_ssl.bench import learning_sanity

    if ctx.dry:
        over = ["--train.max_steps", "2", "--train.batch_size", "4", "--data.num_samples", "32",
                "--data.num_eval_samples", "16", "--eval.max_train_samples", "32", "--eval.knn_k", "5",
                "--model.depth", "1",
                "--train.log_every", "1"]
    else:  # ViT-S width at 64 px, ~2 min of training on an H100/H200
        over = ["--model.embed_dim", "384", "--model.depth", "12", "--model.num_heads", "6",
                "--model.img_size", "64", "--model.patch_size", "8", "--data.image_size", "64",
                "--data.num_samples", "65536", "--data.num_eval_samples", "2048", "--eval.max_train_samples",
                "8192", "--train.batch_size", "128", "--train.max_steps", "600", "--train.precision", "bf16",
                "--train.num_workers", "12", "--train.log_every", "50"]
    res = learning_sanity(ctx.scratch / "dilemma_sanity", over)
    return {**res, "headline": {"knn_before": res["knn_before"], "knn_after": res["knn_after"]}}


ROWS: tuple[Row, ...] = (
    Row("core_vit_b_eager", 45, _core("base", False), "MFU >= 45 %"),
    Row("core_vit_s_eager", 45, _core("small", False), "keep 0.35 >= 0.9 of ideal compiled"),
    Row("dilemma_epoch_ratio", 60, _dilemma, "<= 0.60x (thesis 0.65x)"),
    Row("vidrop_clips_per_s", 60, _vidrop, ">= 2x at 85 % (thesis 1.84x)"),
    Row("river_predict16", 45, _river, "< 1 s (thesis 9.97 s on a 3090)"),
    Row("scale_samples_per_s", 30, _scale, ">= 10,000 samples/s"),
    Row("core_vit_b_compiled", 120, _core("base", True), "MFU >= 45 %"),
    Row("core_vit_s_compiled", 90, _core("small", True), "keep 0.35 >= 0.9 of ideal"),
    Row("dilemma_learning_sanity", 120, _sanity, "k-NN after > before"),
)


# ---------------------------------------------------------------------- runner
def _env(device: torch.device, dry: bool) -> dict[str, Any]:
    cuda = device.type == "cuda"
    return {"device": str(device), "device_name": torch.cuda.get_device_name(device) if cuda else platform.machine(),
            "torch": torch.__version__, "dry_run": dry, "precision": "bf16 autocast" if cuda else "fp32"}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _summary(env: dict[str, Any], results: list[dict[str, Any]]) -> str:
    table = markdown_table(
        [{"row": r["name"], "ok": "yes" if r["ok"] else "FAILED", "s": r["time_s"],
          "headline": "; ".join(f"{k} {_fmt(v)}" for k, v in r.get("headline", {}).items()) or (r["error"] or ""),
          "target": r["target"]} for r in results],
        {"row": "row", "ok": "ok", "s": "time (s)", "headline": "headline", "target": "target"},
        fmt={"s": ".1f"},
    )
    return (f"# GPU suite on {env['device_name']} ({env['precision']}, torch {env['torch']}"
            f"{', DRY RUN: toy sizes, numbers not meaningful' if env['dry_run'] else ''})\n\n{table}\n")


def _flush(out: Path, env: dict[str, Any], results: list[dict[str, Any]]) -> None:
    (out / "gpu_suite.json").write_text(json.dumps({"env": env, "rows": results}, indent=2, default=str))
    (out / "gpu_suite.md").write_text(_summary(env, results))


def run_suite(out_dir: Path | str, dry_run: bool = False, only: Sequence[str] | None = None,
              total_budget_s: float = TOTAL_BUDGET_S) -> list[dict[str, Any]]:
    """Run the rows, rewriting the JSON and Markdown after each; returns one result dict per row.

    Args:
        out_dir: Output folder (created): ``gpu_suite.json`` and ``gpu_suite.md``.
        dry_run: Toy sizes on the CPU (budgets then do not apply: each row takes seconds).
        only: Names of the rows to run (default all, in :data:`ROWS` order).
        total_budget_s: Wall-time cap over all rows; a row gets ``min(budget, time left)`` and is skipped
            (reported as failed) once none is left.

    Returns:
        per row ``name``, ``ok``, ``time_s``, ``error`` (traceback tail or None), ``headline``, ``result``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cpu" if dry_run or not torch.cuda.is_available() else "cuda")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    env = _env(device, dry_run)
    rows = [r for r in ROWS if only is None or r.name in only]
    unknown = sorted(set(only or ()) - {r.name for r in ROWS})
    if unknown:
        raise ValueError(f"unknown row(s) {unknown}; rows: {[r.name for r in ROWS]}")
    results: list[dict[str, Any]] = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        for row in rows:
            left = total_budget_s - (time.perf_counter() - start)
            res: dict[str, Any] = {"name": row.name, "target": row.target, "ok": False, "time_s": 0.0,
                                   "error": None, "headline": {}, "result": None}
            t0 = time.perf_counter()
            print(f"[gpu-suite] {row.name} ...", flush=True)
            try:
                if not dry_run and left <= 0:
                    raise RowTimeout("skipped: the suite's total budget is spent")
                with time_limit(0 if dry_run else min(row.budget_s, left)):
                    value = row.fn(RowContext(device, dry_run, Path(scratch)))
                res.update(ok=True, headline=value.pop("headline", {}), result=value)
            except Exception as exc:  # a failing row is reported, the others still run
                res["error"] = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exc(limit=-3))
            res["time_s"] = round(time.perf_counter() - t0, 1)
            print(f"[gpu-suite] {row.name}: {'ok' if res['ok'] else 'FAILED'} in {res['time_s']} s "
                  f"{res['headline'] or res['error']}", flush=True)
            results.append(res)
            _flush(out, env, results)
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
    print(_summary(env, results))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sparse_core.gpu_suite [--gpu] [--dry-run] [--out DIR] [--rows NAME ...]``: 0 if all rows passed.

    Returns:
        0 when every row passed, 1 when one failed, 2 on a usage error.
    """
    parser = argparse.ArgumentParser(prog="sparse_core.gpu_suite", description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="accepted for `nox -s bench -- --gpu` (the default)")
    parser.add_argument("--dry-run", action="store_true", help="every row at toy size on the CPU")
    parser.add_argument("--out", default="bench-results", help="output folder")
    parser.add_argument("--rows", nargs="*", default=None, help=f"subset of {[r.name for r in ROWS]}")
    parser.add_argument("--total-budget-s", type=float, default=TOTAL_BUDGET_S, help="cap on all rows")
    args = parser.parse_args(argv)
    try:
        results = run_suite(args.out, args.dry_run, args.rows, args.total_budget_s)
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
