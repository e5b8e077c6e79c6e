"""``dilemma-train --config NAME_OR_PATH [--group.key value ...]``: pre-train, export and evaluate.

Multi-GPU / multi-node: ``accelerate launch -m dilemma_ssl.cli.train --config mocov3_dilemma``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dilemma_ssl.config import CONFIG_DIR, DilemmaRunConfig
from sparse_core.cli import run_cli

__all__ = ["main", "run"]


def run(cfg: DilemmaRunConfig) -> dict[str, Any]:
    """Train as ``cfg`` says and print the evaluation; returns the run summary."""
    from dilemma_ssl.runner import train  # torch: imported for a run, not for --help or a bad argument

    result = train(cfg)
    if "eval" in result:
        print(json.dumps(result["eval"], indent=2))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the config (defaults -> YAML -> overrides) and train; 0 on success, 2 on a config error."""
    return run_cli(DilemmaRunConfig, run, argv, prog="dilemma-train", config_dir=CONFIG_DIR)


if __name__ == "__main__":
    raise SystemExit(main())
