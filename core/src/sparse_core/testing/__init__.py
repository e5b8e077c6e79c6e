"""Helpers for the tests of every package: CPU gloo process groups and console-script checks.

* :func:`run_distributed` runs a function on ``world_size`` CPU processes in one gloo process group and
  returns what each rank returned (lightly's conftest runs its distributed code the same way).
* :func:`console_scripts` / :func:`call_script` find a distribution's console scripts and call one in
  process, capturing its exit status, stdout and stderr.
* :func:`assert_cli_refuses` / :func:`assert_config_refuses` check that a bad value is refused with a
  message naming its key (exit 2 with one line on stderr; a ConfigError from the dataclass).
"""

from sparse_core.testing.config_errors import assert_cli_refuses, assert_config_refuses
from sparse_core.testing.distributed import free_port, run_distributed
from sparse_core.testing.scripts import ScriptRun, call_script, console_scripts

__all__ = ["ScriptRun", "assert_cli_refuses", "assert_config_refuses", "call_script", "console_scripts", "free_port",
           "run_distributed"]
