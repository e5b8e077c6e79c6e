"""Assertions that every package's tests make the same way: the CLI shape and seeded trainings.

* :func:`assert_rejects_unknown_key`: a console script given an unknown key exits 2 with one line on stderr
  that names the key and the valid ones, and no traceback (one CLI shape, house style 14).
* :func:`assert_study_has_common_shape`: ``<pkg>.study`` subclasses :class:`~sparse_core.suite.StudyConfig`
  and refuses an unknown key the same way.
* :func:`assert_seed_decides_weights`: ``--train.seed`` alone decides the trained weights, whatever the
  global RNG state was before the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from safetensors.torch import load_file

from sparse_core.suite import StudyConfig
from sparse_core.testing.scripts import call_main, call_script

__all__ = ["UNKNOWN_KEY", "assert_kill_and_resume_is_exact", "assert_rejects_unknown_key",
           "assert_seed_decides_weights", "assert_study_has_common_shape"]

UNKNOWN_KEY = "no.such_key"
"""A config key no CLI has (passed as ``--no.such_key 1``)."""


def assert_rejects_unknown_key(entry: EntryPoint | Callable[[list[str]], Any]) -> None:
    """Call the console script with ``--no.such_key 1`` and check the one-line refusal.

    Args:
        entry: the console script (see :func:`~sparse_core.testing.console_scripts`) or a ``main(argv)``.

    Raises:
        AssertionError: the status is not 2, stderr is not one line naming the key and the valid keys, or a
            traceback was printed.
    """
    argv = [f"--{UNKNOWN_KEY}", "1"]
    res = call_script(entry, argv) if isinstance(entry, EntryPoint) else call_main(entry, argv)
    name = getattr(entry, "name", getattr(entry, "__name__", "main"))
    assert res.code == 2, (name, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and UNKNOWN_KEY in lines[0] and "valid" in lines[0], (name, res.err)
    assert "Traceback" not in res.err + res.out, name


def assert_study_has_common_shape(study: ModuleType) -> None:
    """Check a package's ``study`` module: its own :class:`StudyConfig` subclass and the common options.

    Args:
        study: the imported ``<pkg>.study`` module.

    Raises:
        AssertionError: no subclass of :class:`StudyConfig` is defined next to the imported one, or
            ``main(["--no.such_key", "1"])`` does not return 2 with one stderr line naming the key and the
            common options ``out, seeds, quick``.
    """
    configs = [v for v in vars(study).values() if isinstance(v, type) and issubclass(v, StudyConfig)]
    assert len(configs) >= 2  # the package's own subclass next to the imported StudyConfig
    res = call_main(study.main, [f"--{UNKNOWN_KEY}", "1"])
    assert res.code == 2, res.err
    assert UNKNOWN_KEY in res.err and "out, seeds, quick" in res.err and len(res.err.strip().splitlines()) == 1


def assert_seed_decides_weights(main: Callable[[list[str]], int], argv: Sequence[str], weights: str, out_root: Path,
                                *, seed: int, other_seed: int, global_seed: int = 100) -> None:
    """Train with ``seed``, ``seed`` and ``other_seed``, each after another global RNG state; compare weights.

    Run ``i`` calls ``main([*argv, "--train.seed", S, "--train.out_dir", out_root / f"run{i}"])`` after
    ``torch.manual_seed(global_seed + i)`` and reads the safetensors file ``weights`` it wrote there.

    Args:
        main: the training CLI's ``main(argv) -> int``.
        argv: its arguments (a tiny config) without the seed and the output folder.
        weights: file name of the exported weights inside the output folder.
        out_root: folder of the three runs (``run0``, ``run1``, ``run2``).
        seed: the training seed of the first two runs.
        other_seed: the training seed of the third run.
        global_seed: run ``i`` starts from ``torch.manual_seed(global_seed + i)``.

    Raises:
        AssertionError: a run failed, the two runs with ``seed`` differ in a tensor (or in their keys), or the
            run with ``other_seed`` equals them in every tensor.
    """
    state = []
    for i, s in enumerate([seed, seed, other_seed]):
        torch.manual_seed(global_seed + i)  # a different global RNG state before every run
        out = out_root / f"run{i}"
        assert main([*argv, "--train.seed", str(s), "--train.out_dir", str(out)]) == 0
        state.append(load_file(out / weights))
    assert state[0].keys() == state[1].keys()
    assert all(torch.equal(state[0][k], state[1][k]) for k in state[0])
    assert any(not torch.equal(state[0][k], state[2][k]) for k in state[0])


def assert_kill_and_resume_is_exact(main: Callable[[list[str]], int], argv: Sequence[str], weights: str,
                                    out_root: Path, task_cls: type, kill_at: int) -> None:
    """A run killed at step ``kill_at`` and started again with the same command ends with the same weights.

    The kill is a :class:`KeyboardInterrupt` raised from ``task_cls.training_step`` at optimizer step
    ``kill_at`` (what Ctrl-C or a preempted job does between two checkpoints); the rerun resumes from the
    newest checkpoint (``--train.resume auto``, the default). ``argv`` must checkpoint before ``kill_at``
    (e.g. ``--train.ckpt_every 2``).

    Args:
        main: the training CLI's ``main(argv) -> int``.
        argv: its arguments (a tiny config) without the output folder.
        weights: file name of the exported weights inside the output folder.
        out_root: folder of the two runs (``full`` and ``killed``).
        task_cls: the class whose ``training_step`` the run calls.
        kill_at: optimizer step at which the first attempt dies.

    Raises:
        AssertionError: a run failed, the kill did not happen, or the resumed weights differ from the
            uninterrupted run's in any tensor.
    """
    full, killed = out_root / "full", out_root / "killed"
    assert main([*argv, "--train.out_dir", str(full)]) == 0
    original = getattr(task_cls, "training_step")  # noqa: B009 (a class attribute patched below)

    def dying_step(self: Any, batch: Any, step: int, *args: Any, **kwargs: Any) -> Any:
        if step == kill_at:
            raise KeyboardInterrupt(f"simulated kill at step {kill_at}")
        return original(self, batch, step, *args, **kwargs)

    setattr(task_cls, "training_step", dying_step)  # noqa: B010
    try:
        try:
            main([*argv, "--train.out_dir", str(killed)])
        except KeyboardInterrupt:
            pass
        else:
            raise AssertionError(f"the run was not killed at step {kill_at}")
    finally:
        setattr(task_cls, "training_step", original)  # noqa: B010
    assert not (killed / weights).exists(), "the killed run exported weights"
    assert main([*argv, "--train.out_dir", str(killed)]) == 0
    a, b = load_file(full / weights), load_file(killed / weights)
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"resumed weights differ from the uninterrupted run in {different[:5]}"
