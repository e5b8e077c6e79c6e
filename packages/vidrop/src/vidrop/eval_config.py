"""The config of ``vidrop-eval`` and of its probes, apart from the torch code that runs them.

``vidrop-eval --help`` and its argument errors parse these dataclasses without importing torch
(:mod:`vidrop.evaluation.protocols` and :mod:`vidrop.cli.evaluate` re-export them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sparse_core.validation import check_choice, check_each, check_float, check_int
from vidrop.config import DataConfig, EncoderConfig

__all__ = ["FEATURES", "PROTOCOLS", "EvalConfig", "ProbeConfig"]

PROTOCOLS = ("knn", "linear", "lowshot", "attentive")
FEATURES = ("cls", "avg", "cls+avg")
"""``probe.feature`` choices: the CLS token, the mean of the patch tokens, or both concatenated."""


@dataclass
class ProbeConfig:
    """Evaluation protocols and views (thesis Tables 6.6-6.8: linear 5x3 views, attentive 1x1, k-NN, low-shot)."""

    protocols: list[str] = field(default_factory=lambda: list(PROTOCOLS))
    """Which of 'knn', 'linear', 'lowshot', 'attentive' to run."""
    num_frames: int = 16
    """Frames per evaluation clip (>= 1; the thesis evaluates 16-frame clips like it trains)."""
    frame_stride: int = 4
    """Temporal stride (>= 1) between the frames of an evaluation clip."""
    size: int = 224
    """Side of evaluation clips in pixels, >= 1 (short side resized, then centre- or multi-cropped)."""
    num_temporal: int = 5
    """Temporal views (>= 1) averaged for linear / k-NN; Table 6.6: 5."""
    num_spatial: int = 3
    """Spatial crops (>= 1) averaged for linear / k-NN.
    Table 6.6: 3."""
    feature: str = "cls+avg"
    """Clip feature: 'cls', 'avg' or 'cls+avg' (DINOv2 linear evaluation)."""
    knn_k: int = 20
    """Neighbours of the weighted k-NN, >= 1 (DINO: 20)."""
    knn_temperature: float = 0.07
    """Temperature (> 0) of the k-NN vote weights.
    DINO: 0.07."""
    linear_epochs: int = 100
    """Epochs of each linear probe run (>= 1)."""
    linear_lrs: list[float] = field(default_factory=lambda: [1e-3, 1e-2, 1e-1])
    """Learning-rate grid (each > 0) of the linear probe (SGD + BN, selected on a held-out train split)."""
    low_shot_fractions: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.5, 1.0])
    """Fractions in (0, 1] of training labels for the low-shot probes (Table 6.7)."""
    attentive_epochs: int = 30
    """Epochs (>= 1) of the attentive probe."""
    batch_size: int = 16
    """Videos per feature-extraction batch (>= 1)."""
    seed: int = 0
    """Seed (>= 0) of the probe splits and initialisations."""

    def __post_init__(self) -> None:
        """Refuse unknown protocols or features and out-of-range values, naming the ``probe.*`` key.

        Raises:
            ConfigError: the first bad field.
        """
        check_each("probe.protocols", self.protocols, PROTOCOLS)
        check_choice("probe.feature", self.feature, FEATURES)
        for name in ("num_frames", "frame_stride", "size", "num_temporal", "num_spatial", "knn_k",
                     "linear_epochs", "attentive_epochs", "batch_size"):
            check_int(f"probe.{name}", getattr(self, name), 1)
        check_int("probe.seed", self.seed, 0)
        check_float("probe.knn_temperature", self.knn_temperature, 0.0, strict=True)
        for i, lr in enumerate(self.linear_lrs):
            check_float(f"probe.linear_lrs[{i}]", lr, 0.0, strict=True)
        for i, frac in enumerate(self.low_shot_fractions):
            check_float(f"probe.low_shot_fractions[{i}]", frac, 0.0, strict=True, high=1.0)


@dataclass
class EvalConfig:
    """Evaluate a ViDROP backbone with frozen features."""

    run_dir: str | None = None
    """A vidrop-train output folder: its config.yaml gives the encoder, its teacher_backbone.safetensors the
    weights (unless `weights` is set)."""
    weights: str | None = None
    """Backbone weights (.safetensors export or an engine checkpoint .pt); None with no run_dir: random init."""
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """Architecture when no run_dir is given."""
    data: DataConfig = field(default_factory=DataConfig)
    """Labelled training split (probe training / k-NN memory)."""
    test_root: str | None = None
    """Test split folder (source 'video' / 'codes')."""
    test_num_samples: int = 128
    """Generated sources: clips in the test split (rendered from seed data.seed + test_seed_offset;
    ``moving_fashion`` draws them from the unseen garments of its ``split="test"``)."""
    test_seed_offset: int = 1000
    """Procedural: seed offset of the test split (disjoint from training)."""
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    """Protocols and views."""
    compare_random: bool = False
    """Also evaluate a randomly initialised encoder of the same architecture (reported as random_*)."""
    snippets_root: str | None = None
    """Folder of untrimmed videos to export per-snippet features from (THUMOS14-style), or None."""
    snippets_out: str | None = None
    """Where the per-video snippet feature .npy files go."""
    snippet_stride: int = 4
    """Frames between snippet starts."""
    out: str | None = None
    """JSON file for the results (default run_dir/eval.json when run_dir is set)."""
    device: str = "auto"
    """'auto' (CUDA if available), 'cpu' or 'cuda'."""
