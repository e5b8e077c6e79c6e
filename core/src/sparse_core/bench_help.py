"""``--help`` latency of every installed sparse-ssl console script: median wall time of a fresh process.

Each script's ``--help`` runs as its own process (the executable beside this interpreter, else
``python -c`` calling its entry point) at least :data:`~sparse_core.timing_base.MIN_PAIRS` times, the scripts
interleaved round by round, so a neighbour's load slows every script of a round instead of one; a row is the
median, min and max of one script's wall times, with the machine's 1-minute load average before and after the
rounds beside it (``help.json`` and the table's caption). The target is under 2 s: ``--help`` and argument
errors import no torch (checked by a test, not timed there). Benchmarks are never tests.

Run ``python -m sparse_core.bench_help --out DIR [--repeats N] [--only '[dilemma-train]']``; ``sparse-ssl-bench``
runs :func:`run` as its ``cli_help`` stage.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, distributions
from pathlib import Path
from typing import Any

from sparse_core.cli import run_cli
from sparse_core.config import ConfigError
from sparse_core.report import markdown_table
from sparse_core.suite import StageResult
from sparse_core.timing_base import MIN_PAIRS, load_average

__all__ = ["HelpBenchConfig", "TARGET_S", "help_command", "main", "measure", "run", "sparse_ssl_scripts"]

CORE_DIST = "sparse-core"
TARGET_S = 2.0
"""The ``--help`` latency every console script should stay under (issue 23)."""


def sparse_ssl_scripts() -> dict[str, EntryPoint]:
    """Console scripts of sparse-core and of every installed distribution that requires it, by name."""
    found: dict[str, EntryPoint] = {}
    for dist in distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        needs_core = any(req.lower().replace("_", "-").startswith(CORE_DIST) for req in dist.requires or [])
        if name == CORE_DIST or needs_core:
            found.update({ep.name: ep for ep in dist.entry_points if ep.group == "console_scripts"})
    return dict(sorted(found.items()))


def help_command(entry: EntryPoint) -> list[str]:
    """The command line that runs ``entry --help`` in a fresh process.

    The installed executable beside :data:`sys.executable` (what a user types), else this interpreter calling
    the entry point's function (an environment whose scripts are not on disk).
    """
    exe = Path(sys.executable).parent / entry.name
    if exe.is_file():
        return [str(exe), "--help"]
    module, _, attr = entry.value.partition(":")
    code = f"import sys; from {module} import {attr} as main; sys.exit(main(['--help']))"
    return [sys.executable, "-c", code]


def _wall_time(cmd: Sequence[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return seconds


def measure(scripts: dict[str, EntryPoint], repeats: int = MIN_PAIRS, warmup: int = 1) -> dict[str, Any]:
    """Wall times of each script's ``--help``, in ``repeats`` interleaved rounds after ``warmup`` untimed ones.

    Args:
        scripts: console scripts by name (see :func:`sparse_ssl_scripts`).
        repeats: timed rounds, at least :data:`~sparse_core.timing_base.MIN_PAIRS`.
        warmup: untimed rounds first (the file cache, ``.pyc`` files).

    Returns:
        ``{"rows": [...], "load_before": ..., "load_after": ...}``; a row holds ``script``, ``median_s``,
        ``min_s``, ``max_s``, ``repeats``, ``under_target`` and ``times_s`` (every round).

    Raises:
        ValueError: ``repeats`` below the minimum.
        RuntimeError: a script's ``--help`` exited non-zero.
    """
    if repeats < MIN_PAIRS:
        raise ValueError(f"repeats={repeats}: a median needs at least {MIN_PAIRS} rounds")
    commands = {name: help_command(ep) for name, ep in scripts.items()}
    for _ in range(warmup):
        for cmd in commands.values():
            _wall_time(cmd)
    load_before = load_average()
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, cmd in commands.items():
            times[name].append(_wall_time(cmd))
    load_after = load_average()
    rows = [{"script": name, "median_s": statistics.median(ts), "min_s": min(ts), "max_s": max(ts),
             "repeats": len(ts), "under_target": statistics.median(ts) < TARGET_S, "times_s": ts}
            for name, ts in times.items()]
    return {"rows": rows, "load_before": load_before, "load_after": load_after}


def _caption(result: dict[str, Any], repeats: int) -> str:
    def one(load: tuple[float, float, float] | None) -> str:
        return "n/a" if load is None else f"{load[0]:.2f}"

    return (f"Median of {repeats} interleaved rounds per script (fresh process each, after a warm-up round); "
            f"1-min load average {one(result['load_before'])} before, {one(result['load_after'])} after, "
            f"on {os.cpu_count()} CPUs. Target: under {TARGET_S:g} s.")


def run(out_dir: Path | str, quick: bool = False, repeats: int | None = None,
        only: Sequence[str] | None = None) -> StageResult:
    """Measure the ``--help`` latency of the installed console scripts; writes ``out_dir/help.json``.

    Args:
        out_dir: output folder (created).
        quick: the smoke setting: one script per distribution.
        repeats: timed rounds (default and minimum :data:`~sparse_core.timing_base.MIN_PAIRS`).
        only: measure only these scripts.

    Returns:
        the stage result: ``metrics`` the median seconds per script and the slowest one, ``summary`` the
        table with the load average beside it.

    Raises:
        ConfigError: a name in ``only`` is not an installed console script.
    """
    scripts = sparse_ssl_scripts()
    if only:
        unknown = sorted(set(only) - set(scripts))
        if unknown:
            raise ConfigError(f"only: unknown script(s) {unknown}; installed: {sorted(scripts)}")
        scripts = {n: ep for n, ep in scripts.items() if n in only}
    elif quick:
        firsts: dict[str, str] = {}
        for name, ep in scripts.items():
            firsts.setdefault(ep.value.split(".")[0], name)
        scripts = {n: scripts[n] for n in firsts.values()}
    reps = repeats or MIN_PAIRS
    result = measure(scripts, reps)
    table = markdown_table([{k: v for k, v in r.items() if k != "times_s"} for r in result["rows"]],
                           {"script": "script", "median_s": "median s", "min_s": "min s", "max_s": "max s",
                            "under_target": f"< {TARGET_S:g} s"}, fmt=".2f")
    summary = table + "\n\n" + _caption(result, reps)
    print(summary, flush=True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "help.json").write_text(json.dumps({**result, "target_s": TARGET_S, "summary": summary}, indent=2))
    metrics = {f"{r['script']}_help_s": r["median_s"] for r in result["rows"]}
    if result["rows"]:
        metrics["slowest_help_s"] = max(r["median_s"] for r in result["rows"])
    return StageResult(metrics=metrics, summary=summary, outputs=[str(out / "help.json")],
                       details={"rows": result["rows"], "load_before": result["load_before"],
                                "load_after": result["load_after"]})


@dataclass
class HelpBenchConfig:
    """python -m sparse_core.bench_help: --help wall time of every installed sparse-ssl console script."""

    out: str = "bench-results/cli_help"
    """Output folder for help.json."""
    repeats: int = MIN_PAIRS
    """Timed rounds per script (the median is reported; at least 5)."""
    only: list[str] | None = None
    """Measure only these scripts (default: all installed)."""
    quick: bool = False
    """One script per distribution."""

    def __post_init__(self) -> None:
        """Refuse fewer rounds than a median needs.

        Raises:
            ValueError: ``repeats`` below :data:`~sparse_core.timing_base.MIN_PAIRS`.
        """
        if self.repeats < MIN_PAIRS:
            raise ValueError(f"repeats: {self.repeats} is below {MIN_PAIRS} (the median of at least {MIN_PAIRS} "
                             "rounds)")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sparse_core.bench_help``: 0 on success, 2 on a config error."""
    return run_cli(HelpBenchConfig, lambda cfg: run(cfg.out, quick=cfg.quick, repeats=cfg.repeats, only=cfg.only),
                   argv, prog="python -m sparse_core.bench_help")


if __name__ == "__main__":
    raise SystemExit(main())
