"""Helpers for the tests of every package: CPU gloo process groups, console-script calls and shared checks.

* :func:`run_distributed` runs a function on ``world_size`` CPU processes in one gloo process group and
  returns what each rank returned (lightly's conftest runs its distributed code the same way).
* :func:`console_scripts` / :func:`call_script` / :func:`call_main` find a distribution's console scripts
  and call one (or any ``main(argv)``) in process, capturing its exit status, stdout and stderr;
  :func:`assert_light_cli` checks that a script's ``--help`` and argument errors import no torch.
* :func:`assert_rejects_unknown_key`, :func:`assert_study_has_common_shape` and
  :func:`assert_seed_decides_weights` are the checks every package makes of its CLIs, study and training.
* :mod:`sparse_core.testing.badinputs` writes a corpus of bad images and videos (zero-byte, truncated, 16-bit,
  CMYK, 1x1, huge, audio-only, 1-frame, 6x6, grey) and unusable roots, each file saying whether a reader should
  use or skip it; every CLI that reads data is tested over it.
* :func:`assert_cli_refuses` / :func:`assert_config_refuses` check that a bad value is refused with a
  message naming its key (exit 2 with one line on stderr; a ConfigError from the dataclass).
* :func:`write_fashion_mnist` writes a small Fashion-MNIST-format folder (class-dependent images) for tests
  of the sources built on it (:class:`~sparse_core.data.video.MovingFashion`).
* :func:`torch_threads` pins torch's intra-op thread count for a block and restores it.
"""

from sparse_core.testing.checks import (
    UNKNOWN_KEY,
    assert_kill_and_resume_is_exact,
    assert_rejects_unknown_key,
    assert_seed_decides_weights,
    assert_study_has_common_shape,
)
from sparse_core.testing.config_errors import assert_cli_refuses, assert_config_refuses
from sparse_core.testing.distributed import free_port, run_distributed
from sparse_core.testing.fixtures import write_fashion_mnist, write_idx
from sparse_core.testing.scripts import (
    HEAVY_MODULES,
    ScriptRun,
    assert_light_cli,
    call_main,
    call_script,
    console_scripts,
    heavy_imports,
)
from sparse_core.testing.threads import torch_threads

__all__ = ["HEAVY_MODULES", "UNKNOWN_KEY", "ScriptRun", "assert_light_cli", "assert_cli_refuses",
           "assert_config_refuses",
           "assert_kill_and_resume_is_exact", "assert_rejects_unknown_key", "assert_seed_decides_weights",
           "assert_study_has_common_shape", "call_main", "call_script", "console_scripts", "free_port",
           "heavy_imports", "run_distributed", "torch_threads", "write_fashion_mnist", "write_idx"]
