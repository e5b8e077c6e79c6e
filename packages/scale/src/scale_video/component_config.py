"""The config groups of SCALE's predictor, pretext losses and probes, apart from the torch code that uses them.

``scale-train --help`` and ``scale-eval --help`` parse these dataclasses without importing torch or timm
(:mod:`scale_video.model`, :mod:`scale_video.task` and :mod:`scale_video.probes` re-export them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LOW_SHOT_PROBES", "PROBES", "LossConfig", "PredictorConfig", "ProbeConfig"]

PROBES = ("linear", "scale_linear", "knn", "scale_knn", "mlp", "transformer", "scale_ft", "lowshot")
LOW_SHOT_PROBES = ("linear", "scale_linear", "mlp", "transformer", "scale_ft")
"""The rows of thesis Table 4.7 (low-shot Kinetics-400), the probes ``lowshot`` trains on the subset."""


@dataclass
class PredictorConfig:
    """Architecture of the predictor and its projection heads (public SCALE code defaults)."""

    hidden_dim: int = 256
    """Transformer width (public SCALE code: 256; thesis Table 4.10 explores it)."""
    depth: int = 2
    """Transformer blocks (public SCALE code: 2; Table 4.10: more than one is needed)."""
    num_heads: int = 8
    """Attention heads (public SCALE code: 8)."""
    mlp_ratio: float = 2.0
    """Hidden width of each block's MLP over the width (public SCALE code: 2)."""
    dropout: float = 0.1
    """Dropout on attention weights and block outputs (public SCALE code: 0.1)."""
    head_dim: int = 128
    """Output width of the MCM and SET projection MLPs of eq. 4.1 (public SCALE code: 128)."""
    head_layers: int = 3
    """Linear layers of each contrastive head (thesis sec. 4.3.1: "a three-layer MLP (without batch
    normalization) for the contrastive heads")."""

    def __post_init__(self) -> None:
        """Refuse sizes the transformer cannot use.

        Raises:
            ValueError: a non-positive size or a width not divisible by the heads.
        """
        for name in ("hidden_dim", "depth", "num_heads", "head_dim", "head_layers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"model.{name} must be >= 1, got {getattr(self, name)}")
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"model.hidden_dim ({self.hidden_dim}) must be divisible by model.num_heads "
                             f"({self.num_heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {self.dropout}")


@dataclass
class LossConfig:
    """The pretext tasks (thesis sec. 4.2.3) and their sizes (public SCALE code defaults)."""

    set_size: int = 8
    """K, clips per set; 2K of a video's stored clips are used per step (public SCALE code: 8 of 16)."""
    mask_ratio: float = 0.25
    """Fraction of each set replaced by the MSK token (public SCALE code: 0.25; thesis Table 4.9)."""
    temperature: float = 0.2
    """Temperature of both contrastive losses (public SCALE code: 0.2)."""
    mcm: bool = True
    """Use the masked clip modelling loss (eq. 4.6); off for the ablation of Table 4.8."""
    set: bool = True
    """Use the set loss (eq. 4.7); off for the ablation of Table 4.8."""

    def __post_init__(self) -> None:
        """Refuse settings without a loss or out of range.

        Raises:
            ValueError: the first bad field.
        """
        if not (self.mcm or self.set):
            raise ValueError("loss.mcm and loss.set cannot both be false")
        if self.set_size < 2:
            raise ValueError(f"loss.set_size must be >= 2, got {self.set_size}")
        if not 0.0 <= self.mask_ratio < 1.0:
            raise ValueError(f"loss.mask_ratio must be in [0, 1), got {self.mask_ratio}")
        if self.mcm and self.mask_ratio == 0.0:
            raise ValueError("loss.mcm needs loss.mask_ratio > 0")
        if not self.temperature > 0:
            raise ValueError(f"loss.temperature must be > 0, got {self.temperature}")


@dataclass
class ProbeConfig:
    """Which probes run and their hyper-parameters (thesis sec. 4.3.1; grids are smaller than its search)."""

    probes: list[str] = field(default_factory=lambda: list(PROBES))
    """Probes to run, from :data:`PROBES`."""
    knn_k: int = 20
    """Neighbours of the k-NN (thesis: 20)."""
    linear_epochs: int = 100
    """Epochs of each linear probe run."""
    linear_lrs: list[float] = field(default_factory=lambda: [1e-2, 1e-1, 1.0])
    """lr grid of the linear probes (SGD with BatchNorm without affine, MAE-style; thesis sec. 4.3.1)."""
    ft_epochs: int = 50
    """Epochs of the MLP / transformer / SCALE_ft probes."""
    ft_lr: float = 3e-4
    """AdamW lr of the MLP / transformer / SCALE_ft probes."""
    ft_weight_decay: float = 1e-4
    """AdamW weight decay of those probes."""
    ft_batch_size: int = 64
    """Batch size of those probes."""
    low_shot_fraction: float = 0.1
    """Fraction of each class's training videos of the low-shot probes (thesis Table 4.7: 10 %)."""
    low_shot_probes: list[str] = field(default_factory=lambda: list(LOW_SHOT_PROBES))
    """Which of Table 4.7's rows ``lowshot`` runs (default: all five)."""
    seed: int = 0
    """Seed of the probes' splits, initialisations and shuffling."""

    def __post_init__(self) -> None:
        """Refuse unknown probe names.

        Raises:
            ValueError: a name not in :data:`PROBES`.
        """
        bad = sorted(set(self.probes) - set(PROBES))
        if bad:
            raise ValueError(f"probe.probes: unknown {bad}; choose from {list(PROBES)}")
        bad = sorted(set(self.low_shot_probes) - set(LOW_SHOT_PROBES))
        if bad:
            raise ValueError(f"probe.low_shot_probes: unknown {bad}; choose from {list(LOW_SHOT_PROBES)}")
