"""Helpers for the tests of every package: CPU gloo process groups and console-script checks.

* :func:`run_distributed` runs a function on ``world_size`` CPU processes in one gloo process group and
  returns what each rank returned (lightly's conftest runs its distributed code the same way).
* :func:`console_scripts` / :func:`call_script` find a distribution's console scripts and call one in
  process, capturing its exit status, stdout and stderr.
* :mod:`sparse_core.testing.badinputs` writes a corpus of bad images and videos (zero-byte, truncated, 16-bit,
  CMYK, 1x1, huge, audio-only, 1-frame, 6x6, grey) and unusable roots, each file saying whether a reader should
  use or skip it; every CLI that reads data is tested over it.
"""

from sparse_core.testing.distributed import free_port, run_distributed
from sparse_core.testing.scripts import ScriptRun, call_script, console_scripts

__all__ = ["ScriptRun", "call_script", "console_scripts", "free_port", "run_distributed"]
