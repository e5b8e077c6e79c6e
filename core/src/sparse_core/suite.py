"""The main job and the benchmark suite: run every installed package's stage, found by entry points.

Packages register ``run(out_dir) -> dict`` functions in the entry-point groups ``sparse_ssl.demo`` and
``sparse_ssl.bench``; installing a package adds its stage, nothing here lists them by hand.
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

__all__ = ["discover", "run_stages", "demo_main", "bench_main"]

ORDER = ("core", "dilemma", "scale", "river", "vidrop", "sfclip")


def discover(group: str) -> dict[str, Callable[[], Callable[..., dict[str, Any]]]]:
    """Installed stages of ``group``, core first then the thesis order."""
    found = {ep.name: ep for ep in entry_points(group=group)}
    names = sorted(found, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    return {n: found[n].load for n in names}  # loaded lazily: a broken package does not stop the others


def run_stages(group: str, out: Path, only: Sequence[str] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Run each stage into ``out/<name>``; a failing stage is reported and the others still run."""
    stages = discover(group)
    if only:
        unknown = sorted(set(only) - set(stages))
        if unknown:
            raise SystemExit(f"unknown stage(s) {unknown}; installed: {sorted(stages)}")
        stages = {n: f for n, f in stages.items() if n in only}
    results: dict[str, Any] = {}
    for name, load in stages.items():
        stage_dir = out / name
        stage_dir.mkdir(parents=True, exist_ok=True)
        print(f"\n=== {group.split('.')[-1]} stage '{name}' -> {stage_dir}", flush=True)
        t0 = time.perf_counter()
        try:
            res = load()(stage_dir, **kwargs)
            results[name] = {"ok": True, "time_s": round(time.perf_counter() - t0, 1), **(res or {})}
        except Exception as err:
            traceback.print_exc()
            results[name] = {"ok": False, "time_s": round(time.perf_counter() - t0, 1), "error": repr(err)}
    return results


def _write_report(results: dict[str, Any], out: Path, title: str) -> Path:
    lines = [f"# {title}", "", "| stage | status | time (s) |", "|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {'ok' if r['ok'] else 'FAILED: ' + r['error']} | {r['time_s']} |")
    for name, r in results.items():
        if r.get("summary"):
            lines += ["", f"## {name}", "", str(r["summary"])]
        if r.get("outputs"):
            lines += ["", "Outputs:", *[f"- {p}" for p in r["outputs"]]]
    path = out / "README.md"
    path.write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    return path


def demo_main(argv: Sequence[str] | None = None) -> int:
    """``sparse-ssl-demo``: every installed method's tiny stage on embedded data."""
    parser = argparse.ArgumentParser(prog="sparse-ssl-demo", description=demo_main.__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default runs/demo)")
    parser.add_argument("--only", nargs="*", help="run only these stages (default: all installed)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = run_stages("sparse_ssl.demo", args.out, args.only)
    report = _write_report(results, args.out, "sparse-ssl demo")
    print(f"\n{report.read_text()}\nTables, plots and videos are under {args.out.resolve()}"
          f" (summary: {report.resolve()})")
    return 0 if all(r["ok"] for r in results.values()) else 1


def bench_main(argv: Sequence[str] | None = None) -> int:
    """``sparse-ssl-bench``: every installed package's benchmarks; JSON per package into --out."""
    parser = argparse.ArgumentParser(prog="sparse-ssl-bench", description=bench_main.__doc__)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    parser.add_argument("--only", nargs="*", help="run only these packages' benchmarks")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repeats (smoke run)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = run_stages("sparse_ssl.bench", args.out, args.only, quick=args.quick)
    report = _write_report(results, args.out, "sparse-ssl benchmarks")
    print(f"\nBenchmark JSON and tables under {args.out.resolve()} (summary: {report.resolve()})")
    return 0 if all(r["ok"] for r in results.values()) else 1
