"""``run_cli`` leaves the process group before a console script exits (no abort in the group's destructor)."""

from __future__ import annotations

from dataclasses import dataclass

import torch.distributed as dist

from sparse_core.cli import end_process_group, run_cli
from sparse_core.testing import run_distributed


@dataclass
class _Cfg:
    steps: int = 1


def _rank(rank: int, world_size: int) -> tuple[bool, bool, bool]:
    before = dist.is_initialized()
    destroyed = end_process_group()
    return before, destroyed, dist.is_initialized()


def _console(rank: int, world_size: int) -> tuple[int, bool]:
    import sys

    sys.argv = ["prog"]  # argv None: the console-script path
    status = run_cli(_Cfg, lambda cfg: None, None, prog="prog")
    return status, dist.is_initialized()


def test_end_process_group_destroys_the_group_on_every_rank() -> None:
    assert run_distributed(_rank) == [(True, True, False)] * 2


def test_end_process_group_without_group_is_a_no_op() -> None:
    assert not dist.is_initialized()
    assert end_process_group() is False


def test_console_script_path_leaves_the_group_and_in_process_calls_keep_it() -> None:
    assert run_distributed(_console) == [(0, False)] * 2
    kept = run_distributed(lambda rank, ws: (run_cli(_Cfg, lambda cfg: None, [], prog="p"), dist.is_initialized()))
    assert kept == [(0, True)] * 2
