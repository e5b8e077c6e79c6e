"""Shared by the launcher tests: run a console script under ``accelerate launch`` on N CPU processes and read
its checkpoints.

A test starts the script the way users start it on several processes, starts it again as one plain process
with the same arguments (the same global batch), and compares the ``task`` state of the final checkpoints
tensor by tensor.

How N CPU processes are launched: ``accelerate launch --cpu --num_processes 2`` starts ONE process in
accelerate 1.x (``--cpu`` selects its simple launcher; several CPU processes need ``mpirun`` and a hostfile),
so a test built on it compares two one-process runs. :func:`launch` uses ``accelerate launch --multi_gpu
--num_processes N`` (torchrun under accelerate) with ``ACCELERATE_USE_CPU=true`` (what ``--cpu`` sets), which
starts N ranks on gloo, and checks from torchrun's per-rank log folders that N ranks really ran.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from sparse_core.engine.checkpoint import (
    checkpoint_path,
    checkpoint_step,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
)
from sparse_core.testing import free_port

__all__ = ["script", "env", "weights", "launch", "run_script", "assert_same_weights", "largest_move",
           "interrupted_copy", "logged_steps"]


def script(name: str) -> Path:
    """The console script ``name`` installed beside this interpreter."""
    return Path(sys.executable).parent / name


def env() -> dict[str, str]:
    """The environment of every launched process: one thread, fixed hash seed, offline, no display."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "HF_HUB_OFFLINE": "1",
            "MPLBACKEND": "Agg"}


def weights(out: Path, step: int | None = None) -> dict[str, torch.Tensor]:
    """The task state of the checkpoint of ``step`` under ``out/checkpoints`` (the newest when None)."""
    ckpt = latest_checkpoint(out / "checkpoints") if step is None else checkpoint_path(out / "checkpoints", step)
    assert ckpt is not None and ckpt.is_file(), f"no checkpoint {ckpt} under {out}"
    return load_checkpoint(ckpt)["task"]


def _check(run: subprocess.CompletedProcess[str], what: str) -> None:
    assert run.returncode == 0, f"{what} exited {run.returncode}:\n{run.stdout[-1500:]}\n{run.stderr[-3000:]}"


def launch(name: str, args: Sequence[str], out: Path, num_processes: int = 2, timeout: float = 180) -> None:
    """``ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes N <script> ARGS --train.out_dir
    OUT``; asserts it succeeded on ``N`` ranks (torchrun's log folders ``OUT.ranks/*/attempt_0/<rank>``)."""
    ranks = out.parent / f"{out.name}.ranks"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
           str(num_processes), "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(free_port()), "--log_dir", str(ranks), "--tee", "3",
           str(script(name)), *args, "--train.out_dir", str(out)]
    _check(subprocess.run(cmd, env={**env(), "ACCELERATE_USE_CPU": "true"}, timeout=timeout, capture_output=True,
                          text=True), f"accelerate launch --num_processes {num_processes} {name}")
    ran = sorted(p.name for p in ranks.glob("*/attempt_0/*") if p.is_dir())
    assert ran == [str(r) for r in range(num_processes)], f"{name}: ranks {ran} ran, not {num_processes}"


def run_script(name: str, args: Sequence[str], out: Path, timeout: float = 120) -> None:
    """``<script> ARGS --train.out_dir OUT`` as one plain process; asserts it succeeded."""
    _check(subprocess.run([str(script(name)), *args, "--train.out_dir", str(out)], env=env(), timeout=timeout,
                          capture_output=True, text=True), name)


def assert_same_weights(got: dict[str, torch.Tensor], ref: dict[str, torch.Tensor], atol: float,
                        rtol: float) -> None:
    """Same keys, and every tensor of ``got`` within ``atol + rtol * |ref|`` of ``ref``."""
    assert got.keys() == ref.keys()
    for key, value in ref.items():
        torch.testing.assert_close(got[key], value, atol=atol, rtol=rtol, msg=key)


def largest_move(late: dict[str, torch.Tensor], early: dict[str, torch.Tensor]) -> float:
    """Largest absolute change of a floating-point tensor entry between two checkpoints."""
    return max(float((late[k] - early[k]).abs().max()) for k in late if late[k].is_floating_point())


def interrupted_copy(run: Path, to: Path, step: int) -> Path:
    """A copy of the run folder ``run`` as it stood when its checkpoint of ``step`` had just been written (later
    checkpoints and metric lines removed), for a resume (``--train.resume auto``) to continue."""
    shutil.copytree(run, to, ignore=shutil.ignore_patterns("*.ranks"))
    for ckpt in list_checkpoints(to / "checkpoints"):
        if (checkpoint_step(ckpt) or 0) > step:
            ckpt.unlink()
    metrics = to / "metrics.jsonl"
    metrics.write_text("".join(line for line in metrics.read_text().splitlines(keepends=True)
                               if json.loads(line)["step"] <= step))
    return to


def logged_steps(run: Path) -> list[int]:
    """The steps of ``run/metrics.jsonl`` in file order (a resumed run appends; a restarted one repeats)."""
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
