"""Run configuration of ``scale-train``: typed dataclasses parsed by :func:`sparse_core.config.parse_config`.

Thesis sec. 4.3.1: Adam with a cosine schedule, batch 512, 500 epochs (the shipped thesis-scale configs). Where the
thesis gives no value the public SCALE code's is used, named per field (lr 3e-4, 5 % warm-up); its AdamW with
weight decay 1e-4 is the named option ``--optimizer adamw --optim.weight_decay 1e-4``. Shipped YAMLs live in
``scale_video/configs/train`` (``--config NAME``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from scale_video.component_config import LossConfig, PredictorConfig
from sparse_core.config import ConfigError
from sparse_core.engine import OptimConfig, TrainConfig

__all__ = ["OPTIMIZERS", "TRAIN_CONFIG_DIR", "FeatureDataConfig", "ScaleTrainConfig", "scale_optim", "scale_train"]

TRAIN_CONFIG_DIR = Path(__file__).parent / "configs" / "train"
OPTIMIZERS = ("adam", "adamw")
"""``adam``: thesis sec. 4.3.1 (no weight decay); ``adamw``: decoupled weight decay (public SCALE code)."""


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
    """Engine defaults for SCALE: batch 512 for 500 epochs (thesis sec. 4.3.1)."""
    return TrainConfig(out_dir="runs/scale", batch_size=512, epochs=500, log_every=20, ckpt_every=2000)


def scale_optim() -> OptimConfig:
    """lr 3e-4 (public SCALE code; the thesis gives none), no weight decay (Adam), cosine to 0."""
    return OptimConfig(lr=3e-4, weight_decay=0.0, min_lr=0.0)


@dataclass
class ScaleTrainConfig:
    """``scale-train``: the predictor trained on stored clip features."""

    data: FeatureDataConfig = field(default_factory=FeatureDataConfig)
    model: PredictorConfig = field(default_factory=PredictorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=scale_train)
    optim: OptimConfig = field(default_factory=scale_optim)
    optimizer: str = "adam"
    """'adam' (thesis sec. 4.3.1: Adam [Kingma & Ba] with cosine annealing; run as the engine's AdamW with weight
    decay 0, which is the same update, so optim.weight_decay must be 0) or 'adamw' (the public SCALE code's
    decoupled weight decay, e.g. --optim.weight_decay 1e-4)."""
    warmup_frac: float | None = 0.05
    """Warm-up as a fraction of the run (public SCALE code: 5 %); sets optim.warmup_steps (None: keep it)."""

    def __post_init__(self) -> None:
        """Refuse a bad warm-up fraction or optimizer.

        Raises:
            ValueError: ``warmup_frac`` outside ``[0, 1)``.
            ConfigError: an unknown ``optimizer``, or ``adam`` with a weight decay.
        """
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer: {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        decays = (self.optim.weight_decay, self.optim.weight_decay_end or 0.0)
        if self.optimizer == "adam" and any(decays):
            raise ConfigError(f"optim.weight_decay: Adam (thesis sec. 4.3.1) has no weight decay, got "
                              f"{self.optim.weight_decay}; pass --optimizer adamw for AdamW's decoupled decay")
        if self.warmup_frac is not None and not 0.0 <= self.warmup_frac < 1.0:
            raise ValueError(f"warmup_frac must be in [0, 1) or null, got {self.warmup_frac}")
