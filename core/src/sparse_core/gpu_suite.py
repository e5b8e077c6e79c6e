"""The GPU benchmark-and-sanity suite: every method's GPU headline in one prepared run (issue 14).

``python -m sparse_core.gpu_suite --out bench-results`` (or ``nox -s bench -- --gpu``) runs the rows every
installed package registers (entry points ``sparse_ssl.gpu``, :func:`discover_rows`) in order on CUDA;
each row is isolated (an exception or its time budget ends that row only, and is
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
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import torch

from sparse_core.report import markdown_table

__all__ = ["CORE_ROWS", "GPU_GROUP", "Row", "RowContext", "RowTimeout", "discover_rows", "main",
           "run_suite", "time_limit"]

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
    phase: int = 0
    """Rows of phase 0 (quick headlines) run before phase 1 (compiled models, training runs)."""


# ---------------------------------------------------------------------- rows
def _core(size: str, compiled: bool) -> Callable[[RowContext], dict[str, Any]]:
    def fn(ctx: RowContext) -> dict[str, Any]:
        from sparse_core.bench import bench_model

        keeps = (1.0, 0.35, 0.15, 0.05)
        if ctx.dry:
            rows = bench_model("tiny", keeps, 2, ctx.device, img_size=32, depth=1, warmup=1, repeats=5,
                               compile_mode="default" if compiled else None, compile_backend="eager")
        else:
            batch = {"small": 512, "base": 256}[size]
            rows = bench_model(size, keeps, batch, ctx.device, warmup=5, repeats=20,
                               compile_mode="default" if compiled else None)
        dense = rows[0]
        return {"rows": rows, "headline": {"mfu_dense": dense["mfu"], "images_per_s_dense": dense["images_per_s"],
                                           "efficiency_keep0.35": rows[1]["efficiency"]}}

    return fn


CORE_ROWS: tuple[Row, ...] = (
    Row("core_vit_b_eager", 45, _core("base", False), "MFU >= 45 %"),
    Row("core_vit_s_eager", 45, _core("small", False), "keep 0.35 >= 0.9 of ideal compiled"),
    Row("core_vit_b_compiled", 120, _core("base", True), "MFU >= 45 %", phase=1),
    Row("core_vit_s_compiled", 90, _core("small", True), "keep 0.35 >= 0.9 of ideal", phase=1),
)
"""sparse-core's own rows (stage ``core``); each method package registers its rows (:data:`GPU_GROUP`)."""

GPU_GROUP = "sparse_ssl.gpu"
"""Entry-point group of the rows: ``<stage name> = "<module>:ROWS"`` (a sequence of :class:`Row`)."""


def _broken(name: str, value: str, exc: Exception) -> Row:
    message = f"{GPU_GROUP} entry {name!r} ({value}) does not load: {type(exc).__name__}: {exc}"

    def fn(ctx: RowContext) -> dict[str, Any]:
        raise RuntimeError(message)

    return Row(f"{name}_rows", 0, fn, "its rows load")


def discover_rows() -> tuple[Row, ...]:
    """Core's rows and every installed package's: phase 0 before 1, then the suite order, then as listed.

    A package whose rows do not load gives one failing row naming the error (the other rows still run).
    """
    from sparse_core.suite import order_key, stage_positions

    positions = stage_positions()
    found = [((row.phase, order_key("core", positions), i), row) for i, row in enumerate(CORE_ROWS)]
    registered = list(entry_points(group=GPU_GROUP))
    if not registered:
        warnings.warn(f"no installed package registers GPU rows (entry points {GPU_GROUP}): only core's rows run; "
                      "install the method packages (pip install, a source folder on PYTHONPATH has no entry "
                      "points)", stacklevel=2)
    for ep in registered:
        try:
            rows = tuple(ep.load())
        except Exception as exc:  # reported as a failing row
            rows = (_broken(ep.name, ep.value, exc),)
        found += [((row.phase, order_key(ep.name, positions), i), row) for i, row in enumerate(rows)]
    return tuple(row for _, row in sorted(found, key=lambda kv: kv[0]))


def __getattr__(name: str) -> Any:
    if name == "ROWS":  # read from the installed packages' registrations on each access
        return discover_rows()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
              total_budget_s: float = TOTAL_BUDGET_S, rows: Sequence[Row] | None = None) -> list[dict[str, Any]]:
    """Run the rows, rewriting the JSON and Markdown after each; returns one result dict per row.

    Args:
        out_dir: Output folder (created): ``gpu_suite.json`` and ``gpu_suite.md``.
        dry_run: Toy sizes on the CPU (budgets then do not apply: each row takes seconds).
        only: Names of the rows to run (default all, in :func:`discover_rows` order).
        total_budget_s: Wall-time cap over all rows; a row gets ``min(budget, time left)`` and is skipped
            (reported as failed) once none is left.
        rows: The rows to choose from (default :func:`discover_rows`: every installed package's).

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
    available = discover_rows() if rows is None else tuple(rows)
    unknown = sorted(set(only or ()) - {r.name for r in available})
    if unknown:
        raise ValueError(f"unknown row(s) {unknown}; rows: {[r.name for r in available]}")
    rows = [r for r in available if only is None or r.name in only]
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


def main(argv: Sequence[str] | None = None, rows: Sequence[Row] | None = None) -> int:
    """``python -m sparse_core.gpu_suite [--gpu] [--dry-run] [--out DIR] [--rows NAME ...]``: 0 if all rows passed.

    Args:
        argv: command-line arguments (default ``sys.argv[1:]``).
        rows: the rows to choose from (default :func:`discover_rows`).

    Returns:
        0 when every row passed, 1 when one failed, 2 on a usage error.
    """
    parser = argparse.ArgumentParser(prog="sparse_core.gpu_suite", description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="accepted for `nox -s bench -- --gpu` (the default)")
    parser.add_argument("--dry-run", action="store_true", help="every row at toy size on the CPU")
    parser.add_argument("--out", default="bench-results", help="output folder")
    parser.add_argument("--rows", nargs="*", default=None, help="subset of the row names (default all)")
    parser.add_argument("--total-budget-s", type=float, default=TOTAL_BUDGET_S, help="cap on all rows")
    args = parser.parse_args(argv)
    try:
        results = run_suite(args.out, args.dry_run, args.rows, args.total_budget_s, rows)
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
