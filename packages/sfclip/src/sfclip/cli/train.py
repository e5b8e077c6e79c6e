"""``sfclip-train``: SF-CLIP training on the sparse-core engine.

Examples::

    sfclip-train --config tiny --train.out_dir runs/sfclip-tiny
    accelerate launch --num_processes 8 -m sfclip.cli.train --config yfcc15m --data.root /data/yfcc15m
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sfclip.config import CONFIG_DIR, SFCLIPConfig
from sparse_core.cli import run_cli

if TYPE_CHECKING:
    from torch.utils.data import Dataset

__all__ = ["WEIGHTS", "main", "train"]

log = logging.getLogger("sfclip")

WEIGHTS = "sfclip_student.safetensors"
"""File of the exported student (both towers and the logit scale; no teacher, no distillation head)."""


def train(cfg: SFCLIPConfig, dataset: Dataset | None = None) -> dict[str, Any]:
    """Train SF-CLIP as ``cfg`` says; writes the run folder and the exported student weights.

    Args:
        cfg: the run configuration.
        dataset: the training pairs (default :func:`~sfclip.data.build_dataset` of ``cfg``; the study passes
            pairs it decoded once for all its runs).

    Returns:
        the engine's summary (steps, metrics, checkpoint, time) plus ``"weights"``, the exported path.
    """
    from sfclip.data import build_dataset  # torch, the towers, the teachers: for a run, not for --help
    from sfclip.task import SFCLIPTask
    from sparse_core.engine import Trainer
    from sparse_core.engine.run import fit_and_export
    from sparse_core.engine.seeding import seeded

    dataset = build_dataset(cfg) if dataset is None else dataset
    with seeded(cfg.train.seed):  # --train.seed covers the initialisation (students and random teachers)
        task = SFCLIPTask(cfg)
    if task.features is not None:
        task.features.check_length(len(dataset))  # type: ignore[arg-type]
    trainer = Trainer(task, dataset, cfg.train, cfg.optim, config=cfg)
    return fit_and_export(trainer, lambda t: t.student, WEIGHTS,
                          {"model": "sfclip student (vision, text, logit_scale)"})


def _train_and_log(cfg: SFCLIPConfig) -> None:
    result = train(cfg)
    log.info("done: %d steps, final loss %.4f, student -> %s", result["steps"],
             result["metrics"].get("loss", float("nan")), result["weights"])


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (``--config NAME``, dotted overrides) and train; 0 on success, 2 on a config error."""
    return run_cli(SFCLIPConfig, _train_and_log, argv, prog="sfclip-train", config_dir=CONFIG_DIR)


if __name__ == "__main__":
    raise SystemExit(main())
