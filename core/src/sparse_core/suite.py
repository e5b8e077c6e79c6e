"""The demo, benchmark and study runners, with one typed stage result.

Packages register ``run(out_dir, **kwargs) -> StageResult`` functions in the entry-point groups
``sparse_ssl.demo`` and ``sparse_ssl.bench``, and their place in the suite (an int, the thesis order) in
``sparse_ssl.order``; installing a package adds its stage, nothing here lists them by hand.
``sparse-ssl-demo`` / ``sparse-ssl-bench`` run every installed stage; ``python -m <pkg>.study`` runs
one package's study through :func:`study_main`. All three write ``README.md`` / ``study.md`` (Markdown) and a
JSON file holding the :class:`StageResult` of each stage, whose :class:`Headline` (trained value, baselines,
references) a script can check.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from sparse_core.cli import run_cli
from sparse_core.config import ConfigError
from sparse_core.report import markdown_table

__all__ = [  # ORDER: a module attribute read from the installed packages (see __getattr__)
    "ORDER_GROUP",
    "BenchConfig",
    "DemoConfig",
    "Headline",
    "StageResult",
    "StudyConfig",
    "bench_main",
    "demo_main",
    "discover",
    "learned_lines",
    "order_key",
    "run_stages",
    "run_study",
    "stage_positions",
    "study_main",
    "write_report",
]

ORDER_GROUP = "sparse_ssl.order"
"""Entry-point group of each package's place in the suite: ``<stage name> = "<module>:POSITION"`` (an int)."""
CORE_POSITION = 0
"""sparse-core's own stage ``core`` comes first (core needs no entry point to know itself)."""


def stage_positions() -> dict[str, float]:
    """Place of each stage name: ``core`` first, then each package's registration (:data:`ORDER_GROUP`).

    A registration that fails to load is warned about and placed last (``inf``): its stages still run.
    """
    positions: dict[str, float] = {"core": float(CORE_POSITION)}
    for ep in entry_points(group=ORDER_GROUP):
        try:
            positions[ep.name] = float(ep.load())
        except Exception as exc:  # a broken package must not stop the others
            warnings.warn(f"{ORDER_GROUP} entry {ep.name!r} ({ep.value}) does not load: {exc}", stacklevel=2)
            positions[ep.name] = math.inf
    return dict(sorted(positions.items(), key=lambda kv: (kv[1], kv[0])))


def order_key(name: str, positions: Mapping[str, float]) -> tuple[float, str]:
    """Sort key of a stage: its registered place (unregistered: last), then its name."""
    return positions.get(name, math.inf), name


def __getattr__(name: str) -> Any:
    if name == "ORDER":  # the suite order, read from the installed packages' registrations
        return tuple(stage_positions())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class Headline:
    """What a stage learned, in one number against what it must beat: a script checks the margin from this.

    In ``results.json`` it is the object ``{"metric", "trained", "baselines", "references", "higher_is_better",
    "clear_margin"}``.
    """

    metric: str
    """Name of the measured quantity with its unit (e.g. ``"k-NN top-1 (%)"``)."""
    trained: float
    """The trained model's value."""
    baselines: dict[str, float] = field(default_factory=dict)
    """What the margin is measured against (random init, copy-last frame, frozen base, dense), by name."""
    references: dict[str, float] = field(default_factory=dict)
    """Other values shown beside it for context (raw pixels, chance, frame differences, ideal speed-up)."""
    higher_is_better: bool = True
    """False when a smaller value is better (a loss, a time)."""
    clear_margin: float | None = None
    """The margin over every baseline that counts as clear (e.g. 15 k-NN points, 1.5 dB); None: not stated."""

    def margin(self, name: str | None = None) -> float:
        """How much better the trained value is than baseline ``name`` (positive: better).

        Args:
            name: a key of ``baselines``; default the first one.

        Returns:
            ``trained - baseline`` (``baseline - trained`` when lower is better).

        Raises:
            KeyError: there is no baseline ``name`` (or no baseline at all).
        """
        if name is None:
            if not self.baselines:
                raise KeyError("headline has no baseline")
            name = next(iter(self.baselines))
        diff = self.trained - self.baselines[name]
        return diff if self.higher_is_better else -diff

    def is_clear(self) -> bool | None:
        """Whether the margin over every baseline reaches ``clear_margin`` (None when no threshold is stated)."""
        if self.clear_margin is None or not self.baselines:
            return None
        return all(self.margin(n) >= self.clear_margin for n in self.baselines)

    def describe(self) -> str:
        """One line: trained vs each baseline, the margins, whether they are clear, then the references."""
        parts = [f"{self.metric} {self.trained:.4g} trained"]
        parts += [f"vs {n} {v:.4g} ({self.margin(n):+.4g})" for n, v in self.baselines.items()]
        clear = self.is_clear()
        if clear is not None:
            parts.append(f"- {'a clear' if clear else 'NOT a clear'} margin (>= {self.clear_margin:g})")
        if self.references:
            parts.append("; references: " + ", ".join(f"{n} {v:.4g}" for n, v in self.references.items()))
        return " ".join(parts).replace(" ; ", "; ")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Headline:
        """The headline from its JSON form (as written by :meth:`StageResult.to_dict`).

        Raises:
            KeyError: ``metric`` or ``trained`` is missing.
        """
        margin = data.get("clear_margin")
        return cls(metric=str(data["metric"]), trained=float(data["trained"]),
                   baselines={str(k): float(v) for k, v in dict(data.get("baselines") or {}).items()},
                   references={str(k): float(v) for k, v in dict(data.get("references") or {}).items()},
                   higher_is_better=bool(data.get("higher_is_better", True)),
                   clear_margin=None if margin is None else float(margin))


@dataclass
class StageResult:
    """What one demo / benchmark / study stage produced.

    Two kinds of numbers: ``headline`` is the one claim of a demo stage (trained vs its baselines, see
    :class:`Headline`; the report's one-line-per-method summary comes from it), ``metrics`` the flat numbers
    of any stage (the report table's "numbers" column). Benchmark and study stages may leave ``headline``
    None and put their numbers in ``metrics`` only.
    """

    name: str = ""
    """Stage name (the entry-point name, or the package for a study)."""
    ok: bool = True
    """False when the stage raised; ``error`` then holds the exception."""
    time_s: float = 0.0
    """Wall-clock seconds of the stage."""
    headline: Headline | None = None
    """What the stage learned vs its baselines (every demo stage sets it); None for benchmarks and studies."""
    metrics: dict[str, float] = field(default_factory=dict)
    """The few flat numbers a script can check (e.g. ``{"knn_top1": 41.2, "knn_top1_random": 30.5}``)."""
    summary: str = ""
    """Markdown paragraph(s) and tables for the report."""
    outputs: list[str] = field(default_factory=list)
    """Files the stage wrote (tables, plots, videos)."""
    details: dict[str, Any] = field(default_factory=dict)
    """Everything else worth keeping in the JSON (JSON-serialisable)."""
    error: str | None = None
    """``repr`` of the exception of a failed stage."""

    @classmethod
    def of(cls, name: str, value: StageResult | Mapping[str, Any] | None, time_s: float) -> StageResult:
        """The result of stage ``name`` from what its function returned (a StageResult or a plain dict).

        Args:
            name: stage name.
            value: the stage's return value; a dict's ``summary``, ``outputs``, ``metrics`` and ``headline``
                (a :class:`Headline` or its dict form) keys fill those fields and the other keys go to
                ``details``.
            time_s: measured wall-clock seconds.

        Returns:
            the typed result with ``name``, ``ok=True`` and ``time_s`` set.
        """
        if isinstance(value, StageResult):
            return dataclasses.replace(value, name=name, ok=True, time_s=round(time_s, 1))
        data = dict(value or {})
        headline = data.pop("headline", None)
        return cls(
            name=name,
            ok=True,
            time_s=round(time_s, 1),
            headline=headline if headline is None or isinstance(headline, Headline) else Headline.from_dict(headline),
            metrics={k: float(v) for k, v in dict(data.pop("metrics", {}) or {}).items() if v is not None},
            summary=str(data.pop("summary", "") or ""),
            outputs=[str(p) for p in data.pop("outputs", []) or []],
            details=data,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the result (``headline`` as its dict form or None)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageResult:
        """The result from its JSON form (one entry of ``results.json``), the inverse of :meth:`to_dict`."""
        fields = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in fields}
        if kwargs.get("headline") is not None:
            kwargs["headline"] = Headline.from_dict(kwargs["headline"])
        return cls(**kwargs)


def discover(group: str) -> dict[str, Callable[[], Callable[..., Any]]]:
    """Installed stages of ``group`` in the registered order (:func:`stage_positions`; loaded lazily)."""
    found = {ep.name: ep for ep in entry_points(group=group)}
    positions = stage_positions()
    names = sorted(found, key=lambda n: order_key(n, positions))
    return {n: found[n].load for n in names}  # loaded lazily: a broken package does not stop the others


def run_stages(group: str, out: Path, only: Sequence[str] | None = None, **kwargs: Any) -> dict[str, StageResult]:
    """Run each stage of ``group`` into ``out/<name>``; a failing stage is reported and the others still run.

    Args:
        group: entry-point group (``"sparse_ssl.demo"`` or ``"sparse_ssl.bench"``).
        out: output folder; stage ``name`` writes into ``out/name``.
        only: run only these stages (default: all installed).
        **kwargs: passed to every stage function (e.g. ``quick=True`` for benchmarks).

    Returns:
        the result of each stage, in run order.

    Raises:
        ConfigError: a name in ``only`` is not an installed stage.
    """
    stages = discover(group)
    if only:
        unknown = sorted(set(only) - set(stages))
        if unknown:
            raise ConfigError(f"unknown stage(s) {unknown}; installed: {sorted(stages)}")
        stages = {n: f for n, f in stages.items() if n in only}
    results: dict[str, StageResult] = {}
    for name, load in stages.items():
        stage_dir = out / name
        stage_dir.mkdir(parents=True, exist_ok=True)
        print(f"\n=== {group.split('.')[-1]} stage '{name}' -> {stage_dir}", flush=True)
        t0 = time.perf_counter()
        try:
            results[name] = StageResult.of(name, load()(stage_dir, **kwargs), time.perf_counter() - t0)
        except Exception as err:
            traceback.print_exc()
            results[name] = StageResult(name=name, ok=False, time_s=round(time.perf_counter() - t0, 1),
                                        error=repr(err))
    return results


def write_report(results: Mapping[str, StageResult], out: Path, title: str, name: str = "README.md") -> Path:
    """Write the Markdown report ``out/<name>`` and the JSON of every result.

    The report holds the status table, one line per method on what it learned (:func:`learned_lines`) and
    each stage's summary; the JSON goes to ``out/results.json`` (``out/<stem of name>.json`` for another name).

    Args:
        results: stage results by name.
        out: output folder.
        title: Markdown title.
        name: file name of the Markdown report.

    Returns:
        the path of the Markdown report.
    """
    rows = [{"stage": r.name, "status": "ok" if r.ok else f"FAILED: {r.error}", "time (s)": r.time_s,
             "numbers": ", ".join(f"{k} {v:.4g}" for k, v in r.metrics.items())} for r in results.values()]
    lines = [f"# {title}", "", markdown_table(rows, ["stage", "status", "time (s)", "numbers"], fmt=".1f")]
    learned = learned_lines(results)
    if learned:
        lines += ["", "What was learned:", "", *learned]
    for r in results.values():
        if r.summary:
            lines += ["", f"## {r.name}", "", r.summary]
        if r.outputs:
            lines += ["", "Outputs:", *[f"- {p}" for p in r.outputs]]
    path = out / name
    path.write_text("\n".join(lines) + "\n")
    stem = "results" if name == "README.md" else Path(name).stem
    (out / f"{stem}.json").write_text(json.dumps({n: r.to_dict() for n, r in results.items()}, indent=2,
                                                 default=str))
    return path


def learned_lines(results: Mapping[str, StageResult]) -> list[str]:
    """One Markdown bullet per stage with a headline: ``- **name**: <Headline.describe()>``.

    Args:
        results: stage results by name.

    Returns:
        the lines, in the order of ``results`` (stages without a headline are left out).
    """
    return [f"- **{r.name}**: {r.headline.describe()}" for r in results.values() if r.headline is not None]


@dataclass
class DemoConfig:
    """sparse-ssl-demo: every installed method's tiny stage on embedded data."""

    out: str = "runs/demo"
    """Output folder (one sub-folder per stage, README.md and results.json on top)."""
    only: list[str] | None = None
    """Run only these stages (default: all installed)."""


@dataclass
class BenchConfig:
    """sparse-ssl-bench: every installed package's benchmarks; JSON per package into --out."""

    out: str = "bench-results"
    """Output folder."""
    only: list[str] | None = None
    """Run only these packages' benchmarks."""
    quick: bool = False
    """Tiny sizes and few repeats (smoke run; numbers not meaningful)."""


def _demo(cfg: DemoConfig) -> int:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    results = run_stages("sparse_ssl.demo", out, cfg.only)
    report = write_report(results, out, "sparse-ssl demo")
    print(f"\n{report.read_text()}\nTables, plots and videos are under {out.resolve()} (summary: {report.resolve()})")
    return 0 if all(r.ok for r in results.values()) else 1


def _bench(cfg: BenchConfig) -> int:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    results = run_stages("sparse_ssl.bench", out, cfg.only, quick=cfg.quick)
    report = write_report(results, out, "sparse-ssl benchmarks")
    print(f"\nBenchmark JSON and tables under {out.resolve()} (summary: {report.resolve()})")
    return 0 if all(r.ok for r in results.values()) else 1


def demo_main(argv: Sequence[str] | None = None) -> int:
    """``sparse-ssl-demo``: 0 when every stage ran, 1 when one failed, 2 on a config error."""
    return run_cli(DemoConfig, _demo, argv, prog="sparse-ssl-demo")


def bench_main(argv: Sequence[str] | None = None) -> int:
    """``sparse-ssl-bench``: 0 when every benchmark ran, 1 when one failed, 2 on a config error."""
    return run_cli(BenchConfig, _bench, argv, prog="sparse-ssl-bench")


@dataclass
class StudyConfig:
    """A package's small study: its claim reproduced at small scale, with seeds and error bars.

    Packages subclass it to add their own knobs (training steps, budgets) and keep these three options, so
    every ``python -m <pkg>.study`` has the same shape.
    """

    out: str = "runs/study"
    """Output folder: ``study.md`` (the tables), ``study.json`` (the StageResult) and the runs."""
    seeds: list[int] = field(default_factory=lambda: [0])
    """Seeds of the training runs; tables report mean ± std over them."""
    quick: bool = False
    """A minutes-long smoke version (tiny sizes; numbers not meaningful)."""
    doc: str | None = None
    """Also write the Markdown summary to this file (e.g. the package's docs/study.md)."""


def run_study(cfg: StudyConfig, study: Callable[[Any], StageResult], name: str) -> StageResult:
    """Run ``study(cfg)``, time it and write ``<out>/study.md``, ``<out>/study.json`` (and ``cfg.doc``).

    Args:
        cfg: the study's config (a :class:`StudyConfig` subclass).
        study: the package's study; returns its result (``summary`` is the Markdown of ``study.md``).
        name: package name recorded in the result.

    Returns:
        the timed result.
    """
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result = StageResult.of(name, study(cfg), time.perf_counter() - t0)
    md = out / "study.md"
    md.write_text(result.summary.rstrip() + "\n")
    result.outputs = [*result.outputs, str(md), str(out / "study.json")]
    if cfg.doc:
        Path(cfg.doc).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.doc).write_text(result.summary.rstrip() + "\n")
        result.outputs.append(cfg.doc)
    (out / "study.json").write_text(json.dumps(result.to_dict(), indent=2, default=str))
    print(f"{result.summary}\n\nwrote {md} and {out / 'study.json'} ({result.time_s:.0f} s)")
    return result


def study_main(cls: type[StudyConfig], study: Callable[[Any], StageResult], argv: Sequence[str] | None,
               name: str) -> int:
    """The ``main`` of ``python -m <name>.study``: parse ``cls`` and :func:`run_study`.

    Returns:
        0 on success, 2 on a config error.
    """
    return run_cli(cls, lambda cfg: run_study(cfg, study, name), argv, prog=f"python -m {name}.study")
