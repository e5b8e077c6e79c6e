"""Run a function on several CPU processes joined in a gloo process group (for tests).

Each rank calls ``fn(rank, world_size, *args)``; its return value (anything :func:`torch.save` can write)
comes back to the caller, so a test compares the ranks' results with a single-process reference in the
test process itself. On Linux the ranks are forked, which reuses the caller's imports and is several times
faster than spawning fresh interpreters.
"""

from __future__ import annotations

import datetime
import os
import socket
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

__all__ = ["free_port", "run_distributed"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for ``MASTER_PORT``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rank_entry(rank: int, fn: Callable[..., Any], world_size: int, port: int, out_dir: str, init_group: bool,
                timeout_s: float, env: dict[str, str], args: tuple[Any, ...]) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "WORLD_SIZE": str(world_size), "LOCAL_RANK": str(rank),
                       "LOCAL_WORLD_SIZE": str(world_size), **env})
    torch.set_num_threads(1)
    if init_group:
        dist.init_process_group("gloo", rank=rank, world_size=world_size,
                                timeout=datetime.timedelta(seconds=timeout_s))
    try:
        torch.save(fn(rank, world_size, *args), Path(out_dir) / f"rank{rank}.pt")
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def run_distributed(
    fn: Callable[..., Any],
    *args: Any,
    world_size: int = 2,
    init_group: bool = True,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 180.0,
) -> list[Any]:
    """Call ``fn(rank, world_size, *args)`` on ``world_size`` CPU processes and return their results.

    Args:
        fn: the per-rank work; a module-level function when the platform cannot fork.
        *args: extra arguments passed to every rank (forked ranks share them without pickling).
        world_size: number of processes.
        init_group: join a gloo process group before calling ``fn`` (False when ``fn`` lets a library
            such as accelerate create it from the ``MASTER_*`` / ``RANK`` / ``WORLD_SIZE`` variables, which
            are always set).
        env: more environment variables for the ranks (e.g. ``{"ACCELERATE_USE_CPU": "true"}``).
        timeout_s: the whole run is killed after this many seconds; also the process group's timeout.

    Returns:
        the return value of each rank, in rank order.

    Raises:
        torch.multiprocessing.ProcessRaisedException: a rank raised (its traceback is in the message).
        TimeoutError: the ranks did not finish within ``timeout_s``.
    """
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    with tempfile.TemporaryDirectory(prefix="gloo-") as tmp:
        ctx = mp.start_processes(
            _rank_entry,
            args=(fn, world_size, free_port(), tmp, init_group, timeout_s, dict(env or {}), args),
            nprocs=world_size,
            join=False,
            start_method=method,
        )
        deadline = time.monotonic() + timeout_s
        while not ctx.join(timeout=1):  # raises if a rank failed
            if time.monotonic() > deadline:
                for proc in ctx.processes:
                    proc.kill()
                raise TimeoutError(f"the {world_size}-rank gloo run did not finish within {timeout_s:.0f} s")
        return [torch.load(Path(tmp) / f"rank{r}.pt", weights_only=False) for r in range(world_size)]
