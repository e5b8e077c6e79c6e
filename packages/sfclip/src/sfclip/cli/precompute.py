"""``sfclip-precompute``: the frozen teachers' features of every training pair, written once (sec. 7.2.2).

Takes the training config (data, teachers, sizes, ``train.seed``) and writes the store that
``sfclip-train`` with the same ``--distill.precomputed`` then reads instead of running the teachers.

Examples::

    sfclip-precompute --config tiny --out runs/tiny-teacher-features
    sfclip-train --config tiny --distill.precomputed runs/tiny-teacher-features
    sfclip-precompute --config cc12m --out /feat/cc12m --precompute.batch_size 256

``--help`` lists its own keys first (``--out``, ``--precompute.*``), then the training keys it shares.

A killed run resumes: shards already in the store are kept, the missing ones are written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sfclip.config import CONFIG_DIR, PrecomputeRunConfig
from sparse_core.cli import run_cli

__all__ = ["main"]

log = logging.getLogger("sfclip")


def _precompute_and_log(cfg: PrecomputeRunConfig) -> None:
    from sfclip.teacher_store import precompute  # torch and the teachers: for a run, not for --help

    result = precompute(cfg)
    log.info("teacher features of %d pairs (%d skipped, %d shards written) -> %s in %.1f s", result["records"],
             result["skipped"], result["shards_written"], result["path"], result["seconds"])


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (``--config NAME``, dotted overrides) and precompute; 0 on success, 2 on a config error."""
    return run_cli(PrecomputeRunConfig, _precompute_and_log, argv, prog="sfclip-precompute", config_dir=CONFIG_DIR,
                   lead=("out", "precompute"))


if __name__ == "__main__":
    raise SystemExit(main())
