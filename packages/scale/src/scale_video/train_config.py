"""Run configuration of ``scale-train``: typed dataclasses parsed by :func:`sparse_core.config.parse_config`.

Defaults are the public SCALE code's (AdamW lr 3e-4, weight decay 1e-4, 5 % warm-up, cosine), named per field;
shipped YAMLs live in ``scale_video/configs/train`` (``--config NAME``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from scale_video.model import PredictorConfig
from scale_video.task import LossConfig
from sparse_core.engine import OptimConfig, TrainConfig

__all__ = ["TRAIN_CONFIG_DIR", "FeatureDataConfig", "ScaleTrainConfig", "scale_optim", "scale_train"]

TRAIN_CONFIG_DIR = Path(__file__).parent / "configs" / "train"


@dataclass
class FeatureDataConfig:
    """Where the training features come from."""

    root: str | None = None
    """Feature store written by ``scale-extract`` (training mode: 2K clips per sample, several passes)."""
    synthetic: bool = False
    """Train on :func:`scale_video.data.synthetic_bank` instead (smoke runs and tests; no store needed)."""
    synthetic_samples: int = 256
    """Samples of the synthetic bank."""
    synthetic_dim: int = 64
    """Feature width of the synthetic bank."""
    device: str = "auto"
    """Where the features are held: 'auto' (the GPU when there is one), 'cpu' or a torch device."""


def scale_train() -> TrainConfig:
    """Engine defaults for SCALE: large batches, the thesis' throughput regime."""
    return TrainConfig(out_dir="runs/scale", batch_size=512, epochs=200, log_every=20, ckpt_every=2000)


def scale_optim() -> OptimConfig:
    """AdamW lr 3e-4, weight decay 1e-4, cosine to 0 (public SCALE code)."""
    return OptimConfig(lr=3e-4, weight_decay=1e-4, min_lr=0.0)


@dataclass
class ScaleTrainConfig:
    """``scale-train``: the predictor trained on stored clip features."""

    data: FeatureDataConfig = field(default_factory=FeatureDataConfig)
    model: PredictorConfig = field(default_factory=PredictorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=scale_train)
    optim: OptimConfig = field(default_factory=scale_optim)
    warmup_frac: float | None = 0.05
    """Warm-up as a fraction of the run (public SCALE code: 5 %); sets optim.warmup_steps (None: keep it)."""

    def __post_init__(self) -> None:
        """Refuse a bad warm-up fraction.

        Raises:
            ValueError: ``warmup_frac`` outside ``[0, 1)``.
        """
        if self.warmup_frac is not None and not 0.0 <= self.warmup_frac < 1.0:
            raise ValueError(f"warmup_frac must be in [0, 1) or null, got {self.warmup_frac}")
