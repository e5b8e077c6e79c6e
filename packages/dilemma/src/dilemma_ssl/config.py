"""Typed run configuration of dilemma-train / dilemma-eval (defaults -> YAML -> CLI overrides).

Architecture (:class:`ModelConfig`) is kept apart from the method (:class:`MethodConfig`, with the groups
:class:`DINOConfig` and :class:`MAEConfig` of its variants), the data
(:class:`DataConfig`) and the evaluation (:class:`EvalConfig`); the training loop and optimiser configs come
from sparse-core's engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sparse_core.engine.config import OptimConfig, TrainConfig

__all__ = [
    "ModelConfig",
    "MethodConfig",
    "DINOConfig",
    "MAEConfig",
    "DataConfig",
    "EvalConfig",
    "DilemmaRunConfig",
    "VARIANTS",
    "OBJECTIVES",
    "DROP_POLICIES",
]

VARIANTS = ("mocov3", "simclr", "dino", "mae")
OBJECTIVES = ("dilemma", "none", "position_correction", "partial_jigsaw", "flip_detection")
DROP_POLICIES = ("random", "attention")


@dataclass
class ModelConfig:
    """Vision Transformer backbone (a registered ``sparse_vit_*`` timm model) and its projection heads."""

    arch: str = "sparse_vit_small_patch16_224"
    """timm name of the backbone (sparse_core.models registers ``sparse_vit_{tiny,small,base,large}_*``)."""
    img_size: int = 224
    """Input resolution of the global views."""
    patch_size: int = 16
    """Patch (tile) size in pixels; 224 / 16 gives the thesis' 14 x 14 grid."""
    embed_dim: int | None = None
    """Token width; None keeps the architecture's (384 for ViT-S)."""
    depth: int | None = None
    """Number of transformer blocks; None keeps the architecture's (12 for ViT-S)."""
    num_heads: int | None = 12
    """Attention heads; MoCo v3 uses 12 in ViT-S (timm's default is 6). None keeps the architecture's."""
    drop_path_rate: float = 0.0
    """Stochastic depth rate of the student."""
    pos_embed_type: str = "sincos"
    """'sincos' (fixed 2-D sin-cos, as MoCo v3) or 'learned' position embeddings."""
    freeze_patch_embed: bool = True
    """Freeze the patch embedding (MoCo v3's stop-grad-conv1 trick for stability)."""
    proj_hidden_dim: int = 4096
    """Hidden width of the projection and prediction MLPs (MoCo v3: 4096)."""
    proj_dim: int = 256
    """Output width of the projection / prediction heads (MoCo v3: 256)."""
    proj_layers: int = 3
    """Layers of the projection MLP (MoCo v3 ViT: 3)."""
    pred_layers: int = 2
    """Layers of the prediction MLP (MoCo v3 ViT: 2)."""
    head_norm: str = "syncbn"
    """Normalisation in the heads: 'syncbn' (multi-GPU), 'bn' or 'none' (CPU multi-process tests)."""


@dataclass
class DINOConfig:
    """DINO multi-crop variant (thesis sec. 3.2.2): head width, local crops and teacher temperature."""

    out_dim: int = 65536
    """DINO head output dimension."""
    local_crops: int = 6
    """Number of small (local) crops of DINO's multi-crop; they are never sparsified."""
    local_size: int = 96
    """Resolution of the local crops."""
    teacher_temp: float = 0.04
    """Final teacher temperature (linear warm-up from 0.04 over teacher_temp_warmup_steps)."""
    teacher_temp_warmup_steps: int = 0
    """Steps of the teacher-temperature warm-up."""


@dataclass
class MAEConfig:
    """MAE variant (thesis Table 3.14): masking ratio, decoder and reconstruction target."""

    mask_ratio: float = 0.75
    """Fraction of tokens dropped from the encoder and reconstructed by the decoder."""
    decoder_dim: int = 512
    """Decoder width (heads: decoder_dim / 64)."""
    decoder_depth: int = 8
    """Decoder depth."""
    norm_pix_loss: bool = True
    """Reconstruct per-patch normalised pixels."""


@dataclass
class MethodConfig:
    """The SSL method, the DILEMMA loss and the sparsity schedule (thesis sec. 3.2, Tables 3.8-3.14)."""

    variant: str = "mocov3"
    """Base SSL method: 'mocov3' (main model), 'simclr', 'dino' (multi-crop) or 'mae'."""
    objective: str = "dilemma"
    """Token objective: 'dilemma' (mismatch detection, eq. 3.1), 'none' (+Sparsity / dense baseline),
    'position_correction', 'partial_jigsaw' or 'flip_detection' (Table 3.11 ablations)."""
    lambda_dilemma: float = 0.4
    """Weight of the token objective in eq. 3.4; 0 gives the +Sparsity baseline."""
    theta: float = 0.2
    """Fraction of kept tokens whose position embedding is wrong (or patch flipped / position removed)."""
    sparsity: list[float] = field(default_factory=lambda: [0.0, 0.4, 0.55, 0.65])
    """Set of token-dropping ratios the random schedule draws from each step; [0.0] gives dense MoCo v3."""
    batch_multipliers: list[int] = field(default_factory=lambda: [1, 2, 3, 4])
    """Batch-size factor of each sparsity ratio (same length as sparsity) keeping memory about constant."""
    random_sparsity: bool = True
    """Draw the ratio per step; False uses constant_sparsity every step (Table 3.8 ablation)."""
    constant_sparsity: float = 0.75
    """Dropping ratio when random_sparsity is False (and of DINO's global crops)."""
    constant_multiplier: int = 1
    """Batch multiplier used with constant sparsity."""
    mismatch_on_dense: bool = False
    """Apply the token objective on dense steps too (Table 3.10 '+MD'); the thesis turns it off."""
    drop_policy: str = "random"
    """'random' or 'attention' (keep the tokens the teacher's CLS attends most, Table 3.13)."""
    tau: float = 0.2
    """Temperature of the contrastive loss (MoCo v3: 0.2; SimCLR: 0.1)."""
    momentum: float = 0.99
    """Base EMA momentum of the teacher, cosine-increased to 1 (MoCo v3)."""
    dino: DINOConfig = field(default_factory=DINOConfig)
    """DINO variant (``method.variant=dino``): head and multi-crop."""
    mae: MAEConfig = field(default_factory=MAEConfig)
    """MAE variant (``method.variant=mae``): masking and decoder."""

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"method.variant must be one of {VARIANTS}, got '{self.variant}'")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"method.objective must be one of {OBJECTIVES}, got '{self.objective}'")
        if self.drop_policy not in DROP_POLICIES:
            raise ValueError(f"method.drop_policy must be one of {DROP_POLICIES}, got '{self.drop_policy}'")
        if len(self.sparsity) != len(self.batch_multipliers):
            raise ValueError("method.sparsity and method.batch_multipliers must have the same length")
        if not 0.0 <= self.theta < 1.0:
            raise ValueError(f"method.theta must be in [0, 1), got {self.theta}")
        if any(not 0.0 <= s < 1.0 for s in [*self.sparsity, self.constant_sparsity]):
            raise ValueError("sparsity ratios must be in [0, 1)")


@dataclass
class DataConfig:
    """Training and evaluation data (image-folder layout, Fashion-MNIST or the generated shapes)."""

    name: str = "imagefolder"
    """'imagefolder' (root/<class>/<img>), 'fashion_mnist' or 'shapes' (SyntheticShapes, generated)."""
    root: str | None = None
    """Training images (imagefolder) or data folder; None for generated data."""
    eval_root: str | None = None
    """Held-out images for k-NN / linear evaluation (imagefolder), e.g. ImageNet's val/ folder."""
    num_samples: int = 2048
    """Number of generated SyntheticShapes training images (shapes only)."""
    image_size: int = 32
    """Side of the generated SyntheticShapes images (shapes only)."""
    num_eval_samples: int = 512
    """Number of generated SyntheticShapes evaluation images (shapes only)."""
    min_scale: float = 0.08
    """Lower bound of the random-resized-crop scale of the two views."""
    augment: str = "mocov3"
    """'mocov3' (BYOL / MoCo v3 views: crop, flip, colour jitter, grayscale, blur, solarize) or 'light' (the
    same without blur and hue jitter, the two slow ops on CPU; for the tiny config)."""


@dataclass
class EvalConfig:
    """Evaluations run at the end of training and by dilemma-eval."""

    knn_k: int = 20
    """Neighbours of the weighted k-NN classifier (thesis: 20)."""
    knn_t: float = 0.07
    """Temperature of the k-NN vote weights."""
    linear: bool = True
    """Run Linear_F (linear layer on frozen CLS features, small grid)."""
    linear_epochs: int = 100
    """Epochs of each Linear_F run."""
    few_shot: list[float] = field(default_factory=lambda: [0.01, 0.1])
    """Class-balanced label fractions for the few-shot evaluation."""
    mismatch: bool = True
    """Report mismatch-detection accuracy (Table 3.10) at each schedule sparsity."""
    segmentation: bool = False
    """CLS-attention Jaccard and linear per-token segmentation probe (needs masks: data.name=shapes)."""
    batch_size: int = 256
    """Batch size of feature extraction."""
    max_train_samples: int | None = None
    """Use at most this many (evenly spaced) training images as the k-NN / linear train set (None: all)."""
    max_test_samples: int | None = None
    """Use at most this many (evenly spaced) test images (None: all)."""


@dataclass
class DilemmaRunConfig:
    """dilemma-train: DILEMMA self-supervised pre-training (thesis ch. 3) with a final evaluation."""

    model: ModelConfig = field(default_factory=ModelConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    data: DataConfig = field(default_factory=DataConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
