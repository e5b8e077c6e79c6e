"""``scale-extract``: encode sets of clips of every video with a frozen backbone into feature stores.

Examples::

    scale-extract --config tiny
    scale-extract --config k400 --data.root data/k400/train --data.val_root data/k400/val
    scale-extract --config tiny --stores '[val_eval]' --sampling.eval_temporal 2   # 2 x 3 views only
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from scale_video.config import CONFIG_DIR, ExtractConfig
from sparse_core.cli import run_cli

__all__ = ["main"]


def _extract_and_print(cfg: ExtractConfig) -> None:
    from scale_video.extract import extract  # torch and the backbones: for a run, not for --help

    print(json.dumps(extract(cfg), indent=2), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (``--config NAME`` from ``scale_video/configs/extract``, dotted overrides) and extract.

    Returns:
        0 on success, 2 on a config error (one line on stderr).
    """
    return run_cli(ExtractConfig, _extract_and_print, argv, prog="scale-extract", config_dir=CONFIG_DIR / "extract")


if __name__ == "__main__":
    raise SystemExit(main())
