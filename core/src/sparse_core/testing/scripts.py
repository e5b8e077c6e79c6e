"""Find a distribution's console scripts and call one in process, as ``sys.exit(main(argv))`` would."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, distribution
from typing import Any

__all__ = ["ScriptRun", "call_main", "call_script", "console_scripts"]


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
