"""river-train-ae: train the VQGAN autoencoder on single frames (thesis sec. 5.2.1).

Writes the engine's outputs (checkpoints/, metrics.jsonl, loss.png, config.yaml) and ``vqgan.safetensors``
in ``train.out_dir``. Example: ``river-train-ae --config tiny --train.out_dir runs/ae``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from river_vp.cli.stages import STAGES
from river_vp.config import AutoencoderRunConfig

log = logging.getLogger("river_vp.train_ae")


def run(cfg: AutoencoderRunConfig) -> dict[str, Any]:
    """Train and export; returns the trainer summary plus ``"weights"``."""
    from river_vp.data.sources import frame_dataset  # torch and the models: for a run, not for --help or a bad argument
    from river_vp.models.checkpoints import load_vqgan_checkpoint
    from river_vp.models.io import AE_FILE, save_vqgan
    from river_vp.tasks.autoencoder import AutoencoderTask
    from sparse_core.data.collate import collate_skip_none
    from sparse_core.engine import Trainer
    from sparse_core.engine.seeding import build_seeded

    # --train.seed covers the init; max_steps places the end of the quantizer warm-up
    task = build_seeded(AutoencoderTask, cfg.train.seed, cfg.model, cfg.loss, cfg.train.max_steps or 0)
    if cfg.init_checkpoint:
        info = load_vqgan_checkpoint(task.vqgan, cfg.init_checkpoint)
        cfg.loss.init_codebook_from_data = False
        log.info("initialised from %s (%s)", cfg.init_checkpoint, info)
    # the task gives the discriminator its optimizer settings and tells DDP when it is idle (Task hooks)
    trainer = Trainer(
        task,
        frame_dataset(cfg.data),
        cfg.train,
        cfg.optim,
        collate_fn=collate_skip_none,
        config=cfg,
    )
    summary = trainer.fit()
    weights = None
    if trainer.is_main:
        weights = save_vqgan(trainer.unwrapped.vqgan, Path(cfg.train.out_dir) / AE_FILE)
        log.info("autoencoder weights: %s", weights)
    return {**summary, "weights": weights}


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: 0 on success, 2 on a config error or a missing init_checkpoint."""
    return STAGES["ae"].main(run, None, argv)


if __name__ == "__main__":
    raise SystemExit(main())
