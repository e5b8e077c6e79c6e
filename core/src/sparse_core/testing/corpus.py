"""The bad-input corpus of the CLIs: each case a console script run on one user mistake, and what it must say.

A case (:class:`BadRun`) is one command line of one console script: a data root that is missing, empty, a file
or full of unreadable files; an output folder that is a file or lies under one; an unknown key or a bad value;
options that need each other; videos too short or too small; unlabelled data for a protocol that needs labels;
a torn checkpoint. Each package registers a function ``cases(base: Path) -> list[BadRun]`` under the entry-point
group :data:`GROUP`, which writes the inputs its cases need under ``base`` (so core names no method), and runs
its own cases in its tests; the integration tests run every registered case together.

:func:`check_case` runs one case in process and returns what was wrong, an empty list when nothing was: the run
must not raise (no traceback), must exit with the expected status, write one line on stderr that names the key
or file of the mistake, and (for a refusal) leave no weights behind. :func:`standard_cases` builds the mistakes
every data-reading trainer shares from two small functions that say how the script takes a data root and an
output folder.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from sparse_core.testing.badinputs import write_unusable_roots
from sparse_core.testing.scripts import call_main

__all__ = ["GROUP", "BadRun", "assert_package_cases", "check_case", "collect_cases", "core_cases", "noise_videos",
           "standard_cases", "unknown_key_cases"]

GROUP = "sparse_ssl.bad_inputs"
"""Entry-point group of the packages' case builders: ``name = "pkg.module:cases"``."""

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
"""Files a refused run must not leave behind (weights, checkpoints)."""


@dataclass(frozen=True)
class BadRun:
    """One command line of a console script on one user mistake.

    Attributes:
        name: ``"<script>/<kind>"``, unique in the corpus.
        main: the script's ``main(argv) -> int``.
        argv: its arguments.
        names: what the stderr line must contain (the key or the file of the mistake), case-sensitive.
        code: the expected exit status (2: refused before any work).
        out: a folder that must hold no weight or checkpoint file afterwards (None: not checked).
    """

    name: str
    main: Callable[[list[str]], int]
    argv: Sequence[str]
    names: Sequence[str]
    code: int = 2
    out: Path | None = field(default=None)


def check_case(case: BadRun) -> list[str]:
    """Run ``case`` in process; return what it did wrong (an empty list: it behaved).

    Checks: no exception escapes ``main`` (a user would see a traceback); the exit status is ``case.code``;
    stderr's last non-empty line contains every string of ``case.names`` and, for a refusal, stderr is that one
    line and has no ``Traceback``; ``case.out`` holds no weights.
    """
    try:
        run = call_main(case.main, case.argv)
    except Exception:  # the point: any exception is a finding, shown with its traceback
        return [f"{case.name}: raised\n{traceback.format_exc(limit=-3)}"]
    problems = []
    lines = [line for line in run.err.splitlines() if line.strip()]
    if run.code != case.code:
        problems.append(f"{case.name}: exit {run.code}, expected {case.code}; stderr: {run.err[-400:]!r}")
    if "Traceback" in run.err:
        problems.append(f"{case.name}: a traceback on stderr: {run.err[-400:]!r}")
    if case.code == 2:
        refusal = [line for line in lines if not line.startswith(("WARNING ", "INFO ", "["))]
        if len(refusal) != 1:
            problems.append(f"{case.name}: expected one line on stderr, got {len(refusal)}: {run.err[-400:]!r}")
        last = refusal[-1] if refusal else ""
        missing = [n for n in case.names if n not in last]
        if missing:
            problems.append(f"{case.name}: the message does not name {missing}: {last!r}")
    if case.out is not None and case.out.exists():
        left = [p.name for p in case.out.rglob("*") if p.suffix in WEIGHT_SUFFIXES]
        if left:
            problems.append(f"{case.name}: left weights behind: {left[:3]}")
    return problems


def unknown_key_cases(dist: str, argv: Sequence[str] = ()) -> list[BadRun]:
    """For every console script of the distribution ``dist``: an unknown key (``--no_such_key 1``) is refused.

    The message must name the key; ``argv`` goes first (e.g. a sub-command).
    """
    from sparse_core.testing.scripts import console_scripts

    return [BadRun(f"{name}/unknown_key", ep.load(), [*argv, "--no_such_key", "1"], ["no_such_key"])
            for name, ep in console_scripts(dist).items()]


def standard_cases(script: str, main: Callable[[list[str]], int], base: Path, suffix: str,
                   data: Callable[[Path], list[str]], out: Callable[[Path], list[str]] | None,
                   good: Path | None = None, common: Sequence[str] = (),
                   data_key: str | None = None) -> list[BadRun]:
    """The mistakes every data-reading trainer shares: 4 unusable data roots, 2 unusable output folders.

    Args:
        script: the console script's name (names the cases).
        main: its ``main``.
        base: a folder for this script's inputs (created).
        suffix: file suffix of the unreadable files (``".png"``, ``".mp4"``).
        data: the arguments that point the script at a data root.
        out: the arguments that point it at an output folder (None: it writes none).
        good: a usable data root for the output-folder cases (needed with ``out``).
        common: arguments of every case (e.g. ``--config tiny``).
        data_key: what the message of a missing root must name besides the root (e.g. ``"data.root"``).

    Returns:
        cases ``missing``, ``empty``, ``root_is_a_file``, ``all_unreadable`` (exit 2, the root named) and, with
        ``out``, ``out_dir_is_a_file`` and ``out_dir_under_a_file`` (exit 2, the folder named).
    """
    base = Path(base)
    roots = write_unusable_roots(base / "roots", suffix=suffix)
    good_out = base / "run"
    cases = []
    for kind, root in (("missing", roots["missing"]), ("empty", roots["empty"]), ("root_is_a_file", roots["file"]),
                       ("all_unreadable", roots["all_bad"])):
        out_args = out(good_out / kind) if out else []
        names = [root.name] + ([data_key] if data_key and kind == "missing" else [])  # the file or the key
        cases.append(BadRun(f"{script}/{kind}", main, [*common, *data(root), *out_args], names,
                            out=good_out / kind))
    if out is not None:
        if good is None:
            raise ValueError(f"{script}: the output-folder cases need a usable data root (good=)")
        blocker = base / "a_file"
        blocker.parent.mkdir(parents=True, exist_ok=True)
        blocker.write_text("not a folder\n")
        for kind, target in (("out_dir_is_a_file", blocker), ("out_dir_under_a_file", blocker / "run")):
            cases.append(BadRun(f"{script}/{kind}", main, [*common, *data(good), *out(target)], ["a_file"]))
    return cases


def noise_videos(root: Path, frames: int, side: int, n: int = 2) -> Path:
    """``n`` random-noise videos of ``frames`` frames at ``side`` x ``side`` px in ``root`` (created)."""
    import numpy as np

    from sparse_core.testing.badinputs import encode_video

    rng = np.random.default_rng(frames * 1000 + side)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        encode_video(root / f"v{i}.mp4", rng.integers(0, 255, (frames, side, side, 3), np.uint8))
    return root


def assert_package_cases(value: str, base: Path) -> None:
    """A package's test of its own cases, all problems in one failure.

    ``value`` (``"pkg.module:cases"``) must be registered under :data:`GROUP`, its case names unique, and every
    case must behave (:func:`check_case`).
    """
    registered = {ep.value: ep for ep in entry_points(group=GROUP)}
    assert value in registered, f"{value} is not registered under the entry points {GROUP}"
    corpus = registered[value].load()(Path(base))
    assert len({c.name for c in corpus}) == len(corpus), "case names are not unique"
    problems = [p for case in corpus for p in check_case(case)]
    assert not problems, "\n".join(problems)


def core_cases(base: Path) -> list[BadRun]:
    """sparse-core's own console scripts: an unknown key each (they read no data)."""
    return unknown_key_cases("sparse-core")


def collect_cases(base: Path) -> list[BadRun]:
    """Every registered package's cases (:data:`GROUP`), each writing its inputs under ``base / <name>``."""
    cases: list[BadRun] = []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        cases.extend(ep.load()(Path(base) / ep.name))
    names = [c.name for c in cases]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"case names are not unique: {dupes}")
    return cases
