"""``scale-train``: SCALE's predictor trained on stored clip features with the sparse-core engine.

Examples::

    scale-train --config tiny    # reads features/scale-tiny/train, written by scale-extract --config tiny
    accelerate launch --num_processes 4 -m scale_video.cli.train --config k400 --data.root /data/k400-feats
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scale_video.train_config import TRAIN_CONFIG_DIR, FeatureDataConfig, ScaleTrainConfig
from sparse_core.cli import require_path, run_cli
from sparse_core.config import ConfigError

if TYPE_CHECKING:
    from scale_video.data import FeatureBank

__all__ = ["build_bank", "main", "train"]

log = logging.getLogger("scale_video")

PREDICTOR_FILE = "scale_predictor.safetensors"


def build_bank(data: FeatureDataConfig, seed: int = 0) -> FeatureBank:
    """The training features as ``data`` says (a store, or the synthetic bank), on ``data.device``.

    Raises:
        ConfigError: neither a store nor ``data.synthetic``, or a missing store folder.
    """
    from scale_video.data import FeatureBank, synthetic_bank  # torch: for a run, not for --help
    from sparse_core.device import resolve_device

    if data.synthetic:
        bank = synthetic_bank(data.synthetic_samples, dim=data.synthetic_dim, seed=seed)
    else:
        root = require_path(data.root, "data.root", "dir")
        bank = FeatureBank.from_store(root)
    return bank.to(resolve_device(data.device))


def train(cfg: ScaleTrainConfig) -> dict[str, Any]:
    """Train SCALE as ``cfg`` says; writes the run folder and ``scale_predictor.safetensors``.

    Returns:
        the engine's summary (steps, metrics, checkpoint, time) plus ``"predictor"``, the exported path.
    """
    from scale_video.data import IndexDataset  # torch: for a run, not for --help
    from scale_video.task import SCALETask
    from sparse_core.engine import Trainer
    from sparse_core.engine.seeding import seeded
    from sparse_core.export import save_weights

    bank = build_bank(cfg.data, cfg.train.seed)
    if 2 * cfg.loss.set_size > bank.num_clips:
        raise ConfigError(f"loss.set_size={cfg.loss.set_size} needs {2 * cfg.loss.set_size} clips per sample; "
                          f"the store holds {bank.num_clips}")
    if cfg.warmup_frac is not None:
        t = cfg.train
        steps = t.max_steps if t.max_steps is not None else t.epochs * (len(bank) // t.batch_size)
        cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim,
                                                                 warmup_steps=round(cfg.warmup_frac * steps)))
    with seeded(cfg.train.seed):  # --train.seed covers the model's initialisation
        task = SCALETask(bank, cfg.model, cfg.loss)
    trainer = Trainer(task, IndexDataset(len(bank)), cfg.train, cfg.optim, config=cfg)
    result = trainer.fit()
    out = Path(cfg.train.out_dir) / PREDICTOR_FILE
    if trainer.is_main:
        unwrapped: SCALETask = trainer.unwrapped  # type: ignore[assignment]
        save_weights(unwrapped.predictor, out, metadata={"model": "scale_video.SCALEPredictor",
                                                          "in_dim": str(bank.dim)})
    result["predictor"] = out
    return result


def _train_and_log(cfg: ScaleTrainConfig) -> None:
    result = train(cfg)
    log.info("done: %d steps, final loss %.4f, predictor -> %s", result["steps"],
             result["metrics"].get("loss", float("nan")), result["predictor"])


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (``--config NAME``, dotted overrides) and train; 0 on success, 2 on a config error."""
    return run_cli(ScaleTrainConfig, _train_and_log, argv, prog="scale-train", config_dir=TRAIN_CONFIG_DIR)


if __name__ == "__main__":
    raise SystemExit(main())
