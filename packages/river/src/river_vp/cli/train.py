"""river-train: flow-matching training of RIVER's vector field on a latent cache (Algorithm 1).

Writes the engine's outputs and ``river.safetensors`` (weights + architecture + conditioning) in
``train.out_dir``. Example: ``river-train --config tiny --latents runs/latents --train.out_dir runs/flow``.
Multi-GPU / multi-node: ``accelerate launch -m river_vp.cli.train --config bair64 ...``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from river_vp.cli.stages import STAGES
from river_vp.config import FlowRunConfig
from sparse_core.config import ConfigError

log = logging.getLogger("river_vp.train")


def run(cfg: FlowRunConfig) -> dict[str, Any]:
    """Train and export; returns the trainer summary plus ``"weights"``."""
    from river_vp.data.latent_cache import (  # torch and the models: for a run, not for --help or a bad argument
        LatentCache,
        LatentFlowDataset,
    )
    from river_vp.flow.conditioning import num_conditions
    from river_vp.flow.latent_norm import LatentNorm
    from river_vp.models.io import FLOW_FILE, save_river
    from river_vp.tasks.flow import RiverTask
    from river_vp.tasks.regress import NextLatentTask
    from sparse_core.data.collate import collate_skip_none
    from sparse_core.engine import Trainer
    from sparse_core.engine.seeding import build_seeded

    cache = LatentCache(cfg.latents)
    c, h, w = cache.latent_shape
    if (cfg.model.state_channels, cfg.model.state_size) != (c, h) or h != w:
        raise ConfigError(
            f"model.state_channels/state_size = {cfg.model.state_channels}/{cfg.model.state_size} "
            f"do not match the latent cache {cfg.latents} of shape {(c, h, w)}"
        )
    if cfg.model.num_conditions != num_conditions(cfg.condition.mode):
        raise ConfigError(
            f"condition.mode '{cfg.condition.mode}' needs model.num_conditions = "
            f"{num_conditions(cfg.condition.mode)}"
        )
    if cfg.latent_norm == "global":
        scale = cache.auto_scale() if cfg.latent_scale is None else cfg.latent_scale
        norm = LatentNorm.scale(scale, c)
    else:
        try:
            norm = LatentNorm.from_stats(cache.stats(), cfg.latent_norm, c)
        except ValueError as err:
            raise ConfigError(f"latent_norm: {err} ({cfg.latents})") from None
        scale = 1.0 / (sum(norm.std) / c)  # informative only: the flow uses the per-channel map
    dataset = LatentFlowDataset(cache, cfg.condition, cfg.examples_per_video, norm=norm)
    task: RiverTask | NextLatentTask
    if cfg.objective == "regression":
        task = build_seeded(NextLatentTask, cfg.train.seed, cfg.model)
    else:
        task = build_seeded(RiverTask, cfg.train.seed, cfg.model, cfg.sigma_min, cfg.cond_noise_prob,
                            cfg.ema_decay, cfg.prediction)
    trainer = Trainer(task, dataset, cfg.train, cfg.optim, collate_fn=collate_skip_none, config=cfg)
    summary = trainer.fit()
    weights = None
    if trainer.is_main:
        weights = save_river(
            trainer.unwrapped.exported(),
            Path(cfg.train.out_dir) / FLOW_FILE,
            cfg.condition,
            cfg.sigma_min,
            extra={
                "cond_noise_prob": cfg.cond_noise_prob,
                "latents": str(cfg.latents),
                "latent_scale": scale,
                "latent_norm": norm.to_extra(),
                "objective": cfg.objective,
                "prediction": cfg.prediction,
            },
        )
        log.info("vector field weights: %s", weights)
    return {**summary, "weights": weights}


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: 0 on success, 2 on a config error or a missing latent cache."""
    return STAGES["flow"].main(run, None, argv)


if __name__ == "__main__":
    raise SystemExit(main())
