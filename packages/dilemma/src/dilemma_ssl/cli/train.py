"""``dilemma-train --config NAME_OR_PATH [--group.key value ...]``: pre-train, export and evaluate.

Multi-GPU / multi-node: ``accelerate launch -m dilemma_ssl.cli.train --config mocov3_dilemma``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from dilemma_ssl.config import DilemmaRunConfig
from dilemma_ssl.runner import CONFIG_DIR, train
from sparse_core.config import ConfigError, parse_config

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse the config (defaults -> YAML -> overrides) and train; returns the run summary."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = parse_config(DilemmaRunConfig, argv, prog="dilemma-train", config_dir=CONFIG_DIR)
    except (ConfigError, ValueError) as err:
        print(f"dilemma-train: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    result = train(cfg)
    if "eval" in result:
        print(json.dumps(result["eval"], indent=2))
    return result


if __name__ == "__main__":
    main()
