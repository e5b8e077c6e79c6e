"""Find a distribution's console scripts and call one in process, as ``sys.exit(main(argv))`` would.

:func:`assert_light_cli` runs one in a fresh interpreter to see which heavy libraries a call imports.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, distribution
from typing import Any

__all__ = ["HEAVY_MODULES", "ScriptRun", "assert_light_cli", "call_main", "call_script", "console_scripts",
           "heavy_imports"]

HEAVY_MODULES = ("torch", "timm", "transformers", "torchvision", "open_clip", "accelerate")
"""Libraries a CLI's ``--help`` and argument errors must not import (each costs seconds)."""

_PROBE = """
import contextlib, io, json, sys
from importlib.metadata import EntryPoint
main = EntryPoint(sys.argv[1], sys.argv[2], "console_scripts").load()
codes = []
for argv in json.loads(sys.argv[3]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    codes.append(code)
print(json.dumps({"codes": codes, "heavy": [m for m in json.loads(sys.argv[4]) if m in sys.modules]}))
"""


@dataclass
class ScriptRun:
    """What one in-process call of a console script gave."""

    code: int
    """Exit status (``main``'s return value, or the code of a ``SystemExit`` it raised)."""
    out: str
    """Captured stdout."""
    err: str
    """Captured stderr."""


def console_scripts(dist_name: str) -> dict[str, EntryPoint]:
    """The console scripts an installed distribution declares in ``[project.scripts]``.

    Args:
        dist_name: distribution name, e.g. ``"dilemma-ssl"``.

    Returns:
        entry points by script name, sorted by name.
    """
    eps = [ep for ep in distribution(dist_name).entry_points if ep.group == "console_scripts"]
    return {ep.name: ep for ep in sorted(eps, key=lambda e: e.name)}


def call_main(main: Callable[[list[str]], Any], argv: Sequence[str]) -> ScriptRun:
    """Call ``main(list(argv))``, capturing stdout, stderr and the exit status.

    Args:
        main: a CLI's ``main(argv) -> int`` (or one that raises ``SystemExit``, as argparse's ``--help`` does).
        argv: its command-line arguments.

    Returns:
        the exit status and the captured output. An exception other than ``SystemExit`` propagates, so a
        test sees the traceback a user would have seen.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return ScriptRun(code=int(code) if code is not None else 0, out=out.getvalue(), err=err.getvalue())


def call_script(entry: EntryPoint, argv: Sequence[str]) -> ScriptRun:
    """Load the script's ``main`` and :func:`call_main` it.

    Args:
        entry: the console script's entry point (see :func:`console_scripts`).
        argv: its command-line arguments.

    Returns:
        the exit status and the captured output (an exception other than ``SystemExit`` propagates).
    """
    return call_main(entry.load(), argv)


def heavy_imports(entry: EntryPoint, argvs: Sequence[Sequence[str]]) -> tuple[list[Any], list[str]]:
    """Call the script's ``main`` with each of ``argvs`` in one fresh interpreter; which heavy libraries loaded.

    Args:
        entry: a console script's entry point.
        argvs: the argument lists, called in turn (output discarded).

    Returns:
        the exit status of each call and the names of :data:`HEAVY_MODULES` in ``sys.modules`` afterwards.
    """
    done = subprocess.run([sys.executable, "-c", _PROBE, entry.name, entry.value, json.dumps([list(a) for a in argvs]),
                           json.dumps(HEAVY_MODULES)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{entry.name}: the probe failed: {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["codes"], result["heavy"]


def assert_light_cli(entry: EntryPoint, argvs: Sequence[Sequence[str]] = (("--help",), ("--no_such_key", "1"))
                     ) -> None:
    """Assert that ``--help`` (exit 0) and an argument error (exit 2) import none of :data:`HEAVY_MODULES`.

    That is what keeps them fast (torch alone takes seconds to import); timing them in a test would not be
    reliable, the imports are.

    Args:
        entry: a console script's entry point.
        argvs: the calls; the first must exit 0 and the others 2.
    """
    codes, heavy = heavy_imports(entry, argvs)
    assert codes == [0] + [2] * (len(argvs) - 1), f"{entry.name} {list(argvs)} exited {codes}"
    assert heavy == [], f"{entry.name} {list(argvs)} imported {heavy}"
