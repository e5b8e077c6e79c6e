"""The one entry behind every console script: typed config in, exit status out.

Every CLI of the monorepo is ``main(argv: list[str] | None = None) -> int`` written as::

    def main(argv: Sequence[str] | None = None) -> int:
        return run_cli(RunConfig, train, argv, prog="pkg-train", config_dir=CONFIG_DIR)

so that all of them behave alike: ``--help`` and ``--list-configs`` exit 0 (as argparse does); a user's
mistake (unknown key, bad value, missing path, detected before training) prints one line on stderr naming the
key and the valid choices and returns 2, never a traceback; a finished run returns 0. Console scripts declared
in ``[project.scripts]`` call ``sys.exit(main())``, so the returned status becomes the process's.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sparse_core.config import ConfigError, parse_config
from sparse_core.data.errors import DatasetError
from sparse_core.preflight import missing_dependency_message, preflight

__all__ = ["CONFIG_ERROR", "LOG_FORMAT", "end_process_group", "one_line", "report_config_error", "require_path",
           "run_cli"]

T = TypeVar("T")

CONFIG_ERROR = 2
"""Exit status of a run refused because of its configuration (argparse's usage-error status)."""
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
"""Log line format shared by every CLI."""


def one_line(message: str) -> str:
    """Collapse a (possibly multi-line) message into one line, parts joined by ``'; '``.

    Args:
        message: the text of an exception, e.g. a jsonargparse error spread over several indented lines.

    Returns:
        the non-empty lines, stripped and joined with ``'; '``.
    """
    return "; ".join(line.strip() for line in str(message).splitlines() if line.strip())


def report_config_error(prog: str, err: BaseException) -> int:
    """Print ``prog: <one-line message>`` on stderr and return :data:`CONFIG_ERROR`.

    Args:
        prog: program name that prefixes the message.
        err: the configuration error.

    Returns:
        the exit status 2.
    """
    print(f"{prog}: {one_line(str(err))}", file=sys.stderr, flush=True)
    return CONFIG_ERROR


def end_process_group() -> bool:
    """Wait for every rank, then destroy the default process group (no-op when there is none).

    A process that exits with its gloo / NCCL group still alive can abort in the group's destructor
    ("terminate called without an active exception", SIGABRT) after the run itself finished, which turns a
    successful ``accelerate launch`` into a failed one. PyTorch asks scripts to call
    ``destroy_process_group()`` before they exit; :func:`run_cli` does so for console scripts (``argv`` None).
    The barrier keeps a fast rank from tearing down while another still uses the group.

    Returns:
        True when a group was destroyed.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return False
    dist.barrier()
    dist.destroy_process_group()
    return True


def require_path(path: str | Path | None, key: str, kind: str = "any") -> Path:
    """Check a user-given path before any work starts; a missing one is a :class:`ConfigError`.

    Args:
        path: the configured path.
        key: the config key it came from (named in the message, e.g. ``"data.root"``).
        kind: ``"file"``, ``"dir"`` or ``"any"`` (file or folder).

    Returns:
        the path as a :class:`~pathlib.Path`.

    Raises:
        ConfigError: the path is unset, missing or of the wrong kind.
    """
    if path is None or str(path) == "":
        raise ConfigError(f"{key} is required (pass --{key} PATH)")
    p = Path(path)
    exists = {"file": p.is_file, "dir": p.is_dir, "any": p.exists}[kind]()
    if not exists:
        what = {"file": "file", "dir": "folder", "any": "file or folder"}[kind]
        raise ConfigError(f"{key}: no such {what}: {p}")
    return p


def run_cli(
    cls: type[T],
    run: Callable[[T], Any],
    argv: Sequence[str] | None = None,
    *,
    prog: str,
    config_dir: Path | None = None,
    lead: Sequence[str] = (),
) -> int:
    """Parse ``argv`` into the dataclass ``cls`` and call ``run(cfg)``; return the exit status.

    Args:
        cls: the CLI's typed config (nested dataclasses; see :func:`sparse_core.config.parse_config`).
        run: the work; it may raise :class:`ConfigError` for a problem it detects before training (a
            missing path, a shape that does not match the data) or
            :class:`~sparse_core.data.errors.DatasetError` for a data folder that cannot be used. If it
            returns an ``int`` that is the exit status (e.g. 1 when a stage of a suite failed); anything
            else means success.
        argv: command-line arguments (default ``sys.argv[1:]``).
        prog: program name for ``--help`` and error messages.
        config_dir: folder of shipped YAML configs for ``--config NAME``.
        lead: keys and groups ``--help`` shows first (a command's own, before the training keys it shares).

    Returns:
        0 on success, 2 on a configuration or dataset error, an unusable output folder (checked by
        :func:`~sparse_core.preflight.preflight` before ``run``) or a missing dependency (one line on stderr
        naming the pip package), or the int ``run`` returned.
    """
    try:
        cfg = parse_config(cls, argv, prog=prog, config_dir=config_dir, lead=lead)
    except ConfigError as err:
        return report_config_error(prog, err)
    try:
        preflight(cfg)  # output folders writable, options that need each other: before any work
    except ConfigError as err:
        return report_config_error(prog, err)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        result = run(cfg)
    except (ConfigError, DatasetError) as err:  # a user's mistake found before training: no traceback
        return report_config_error(prog, err)
    except ModuleNotFoundError as err:  # a dependency the user's choice of options needs is not installed
        return report_config_error(prog, ConfigError(missing_dependency_message(err)))
    if argv is None:  # a console script under a launcher: leave the process group before the interpreter exits
        end_process_group()
    if isinstance(result, int) and not isinstance(result, bool):
        return result
    return 0
