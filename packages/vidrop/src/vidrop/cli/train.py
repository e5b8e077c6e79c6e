"""``vidrop-train``: ViDROP self-supervised training on the sparse-core engine.

Examples::

    vidrop-train --config tiny --train.out_dir runs/vidrop-tiny
    accelerate launch --num_processes 4 -m vidrop.cli.train --config vitb_k400_kmeans --data.root /data/k400-codes
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sparse_core.cli import run_cli
from vidrop.config import CONFIG_DIR, ViDROPConfig

if TYPE_CHECKING:
    from sparse_core.engine import Trainer

__all__ = ["build_trainer", "main", "train"]

log = logging.getLogger("vidrop")


def train(cfg: ViDROPConfig) -> dict[str, Any]:
    """Train ViDROP as ``cfg`` says; writes the run folder and ``teacher_backbone.safetensors``.

    Returns:
        the engine's summary (steps, metrics, checkpoint, time) plus ``"backbone"``, the exported path.
    """
    from sparse_core.engine.run import fit_and_export  # torch: for a run, not for --help or a bad argument

    return fit_and_export(build_trainer(cfg), lambda t: t.teacher_encoder, "teacher_backbone.safetensors",
                          {"model": "vidrop.ViDROPEncoder (EMA teacher)"}, key="backbone")


def build_trainer(cfg: ViDROPConfig) -> Trainer:
    """The dataset, the seeded task and the engine's Trainer of ``cfg``, before any step (``train`` fits it)."""
    from sparse_core.engine import Trainer  # torch and the encoder: for a run, not for --help
    from sparse_core.engine.seeding import seeded
    from vidrop.data.build import build_dataset
    from vidrop.data.views import MultiClipViews
    from vidrop.task import ViDROPTask

    dataset = build_dataset(cfg.data, MultiClipViews(cfg.views, min_side=cfg.encoder.patch_size))
    with seeded(cfg.train.seed):  # --train.seed covers the model's initialisation
        # the Trainer gives it the run length (Task.setup) and the per-step randomness; an epoch counts the
        # last-layer freeze (head.freeze_last_layer_epochs)
        task = ViDROPTask(cfg, steps_per_epoch=len(dataset) // cfg.train.batch_size)
    return Trainer(task, dataset, cfg.train, cfg.optim, config=cfg)


def _train_and_log(cfg: ViDROPConfig) -> None:
    result = train(cfg)
    log.info("done: %d steps, final loss %.4f, teacher backbone -> %s", result["steps"],
             result["metrics"].get("loss", float("nan")), result["backbone"])


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (``--config NAME``, dotted overrides) and train; 0 on success, 2 on a config error."""
    return run_cli(ViDROPConfig, _train_and_log, argv, prog="vidrop-train", config_dir=CONFIG_DIR)


if __name__ == "__main__":
    raise SystemExit(main())
