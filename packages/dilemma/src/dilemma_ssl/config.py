"""Typed run configuration of dilemma-train / dilemma-eval (defaults -> YAML -> CLI overrides).

Architecture (:class:`ModelConfig`) is kept apart from the method (:class:`MethodConfig`, with the groups
:class:`DINOConfig` and :class:`MAEConfig` of its variants), the data
(:class:`DataConfig`) and the evaluation (:class:`EvalConfig`); the training loop and optimiser configs come
from sparse-core's engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sparse_core.cli import require_path
from sparse_core.config import ConfigError
from sparse_core.engine.config import OptimConfig, TrainConfig
from sparse_core.validation import bad_value, check_choice, check_divisible, check_float, check_int

__all__ = [
    "CONFIG_DIR",
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
    "DATASETS",
    "AUGMENTS",
    "POS_EMBEDS",
    "HEAD_NORMS",
    "TOKEN_REDUCTIONS",
]

CONFIG_DIR = Path(__file__).parent / "configs"
"""Folder of the shipped YAML configs (``--config NAME``)."""

VARIANTS = ("mocov3", "simclr", "dino", "mae")
OBJECTIVES = ("dilemma", "none", "position_correction", "partial_jigsaw", "flip_detection")
DROP_POLICIES = ("random", "attention")
DATASETS = ("imagefolder", "fashion_mnist", "shapes")
AUGMENTS = ("mocov3", "light")
POS_EMBEDS = ("sincos", "learned")
HEAD_NORMS = ("syncbn", "bn", "none")
TOKEN_REDUCTIONS = ("sum", "mean")


@dataclass
class ModelConfig:
    """Vision Transformer backbone (a registered ``sparse_vit_*`` timm model) and its projection heads."""

    arch: str = "sparse_vit_small_patch16_224"
    """timm name of the backbone (sparse_core.models registers ``sparse_vit_{tiny,small,base,large}_*``)."""
    img_size: int = 224
    """Input side of the global views in pixels (>= 1, a multiple of patch_size); thesis: 224."""
    patch_size: int = 16
    """Patch (tile) side in pixels (>= 1); 224 / 16 gives the thesis' 14 x 14 grid of tokens."""
    embed_dim: int | None = None
    """Token width (>= 1); None keeps the architecture's (384 for ViT-S)."""
    depth: int | None = None
    """Number of transformer blocks (>= 1); None keeps the architecture's (12 for ViT-S)."""
    num_heads: int | None = 12
    """Attention heads (>= 1, dividing the width). MoCo v3 uses 12 in ViT-S where timm's default is 6;
    None keeps the architecture's."""
    drop_path_rate: float = 0.0
    """Stochastic depth rate of the student, in [0, 1)."""
    pos_embed_type: str = "sincos"
    """'sincos' (fixed 2-D sin-cos, as MoCo v3) or 'learned' position embeddings."""
    freeze_patch_embed: bool = True
    """Freeze the patch embedding (MoCo v3's stop-grad-conv1 trick for stability)."""
    proj_hidden_dim: int = 4096
    """Hidden width (>= 1) of the projection and prediction MLPs; MoCo v3: 4096."""
    proj_dim: int = 256
    """Output width (>= 1) of the projection / prediction heads (MoCo v3: 256)."""
    proj_layers: int = 3
    """Layers of the projection MLP, >= 1 (thesis sec. 3.2.2 and MoCo v3's ViT: 3)."""
    pred_layers: int = 3
    """Layers of the prediction MLP, >= 1. Thesis sec. 3.2.2: "a 3-layer MLP for the projection and prediction
    heads" (default); 2 is MoCo v3's ViT predictor (facebookresearch/moco-v3 ``moco/builder.py``,
    ``MoCo_ViT._build_projector_and_predictor_mlps``: ``_build_mlp(2, dim, mlp_dim, dim)``)."""
    head_norm: str = "syncbn"
    """Normalisation in the heads: 'syncbn' (BN statistics of the global batch on every device and backend, so N
    processes equal one: ``sparse_core.models.global_norm``), 'bn' (statistics of each process) or 'none'."""

    def __post_init__(self) -> None:
        """Refuse out-of-range sizes and unknown choices, naming the ``model.*`` key.

        Raises:
            ConfigError: the first bad field, or an image side that is not a whole number of patches.
        """
        for name in ("img_size", "patch_size", "proj_hidden_dim", "proj_dim", "proj_layers", "pred_layers"):
            check_int(f"model.{name}", getattr(self, name), 1)
        for name in ("embed_dim", "depth", "num_heads"):
            check_int(f"model.{name}", getattr(self, name), 1, optional=True)
        check_divisible("model.img_size", self.img_size, "model.patch_size", self.patch_size)
        if self.embed_dim is not None and self.num_heads is not None:
            check_divisible("model.embed_dim", self.embed_dim, "model.num_heads", self.num_heads)
        check_float("model.drop_path_rate", self.drop_path_rate, 0.0, strict=False, high=1.0, high_strict=True)
        check_choice("model.pos_embed_type", self.pos_embed_type, POS_EMBEDS)
        check_choice("model.head_norm", self.head_norm, HEAD_NORMS)


@dataclass
class DINOConfig:
    """DINO multi-crop variant (thesis sec. 3.2.2): head width, local crops and teacher temperature."""

    out_dim: int = 65536
    """Output dimension of the DINO head, i.e. the number of prototypes
    (>= 1); DINO uses 65536."""
    local_crops: int = 6
    """Number of small (local) crops of DINO's multi-crop (>= 0); they are never sparsified."""
    local_size: int = 96
    """Side of the local crops in pixels (>= 1, a multiple of model.patch_size); DINO: 96."""
    teacher_temp: float = 0.04
    """Final teacher temperature (> 0), reached by a linear warm-up from 0.04 over
    teacher_temp_warmup_steps."""
    teacher_temp_warmup_steps: int = 0
    """Optimizer steps of the teacher-temperature warm-up (>= 0; 0: constant)."""

    def __post_init__(self) -> None:
        """Refuse out-of-range values, naming the ``method.dino.*`` key (ConfigError on the first bad field)."""
        check_int("method.dino.out_dim", self.out_dim, 1)
        check_int("method.dino.local_crops", self.local_crops, 0)
        check_int("method.dino.local_size", self.local_size, 1)
        check_float("method.dino.teacher_temp", self.teacher_temp, 0.0, strict=True)
        check_int("method.dino.teacher_temp_warmup_steps", self.teacher_temp_warmup_steps, 0)


@dataclass
class MAEConfig:
    """MAE variant (thesis Table 3.14): masking ratio, decoder and reconstruction target."""

    mask_ratio: float = 0.75
    """Fraction of tokens dropped from the encoder and reconstructed by the decoder, in [0, 1) (MAE: 0.75)."""
    decoder_dim: int = 512
    """Decoder width (>= 1); the decoder has max(1, decoder_dim // 64) heads, which must divide it. MAE: 512."""
    decoder_depth: int = 8
    """Decoder blocks (>= 1; MAE: 8)."""
    norm_pix_loss: bool = True
    """Reconstruct per-patch normalised pixels."""

    def __post_init__(self) -> None:
        """Refuse out-of-range values, naming the ``method.mae.*`` key (ConfigError on the first bad field)."""
        check_float("method.mae.mask_ratio", self.mask_ratio, 0.0, strict=False, high=1.0, high_strict=True)
        check_int("method.mae.decoder_dim", self.decoder_dim, 1)
        check_divisible("method.mae.decoder_dim", self.decoder_dim, "its heads (decoder_dim // 64)",
                        max(1, self.decoder_dim // 64))
        check_int("method.mae.decoder_depth", self.decoder_depth, 1)


@dataclass
class MethodConfig:
    """The SSL method, the DILEMMA loss and the sparsity schedule (thesis sec. 3.2, Tables 3.8-3.14)."""

    variant: str = "mocov3"
    """Base SSL method: 'mocov3' (main model), 'simclr', 'dino' (multi-crop) or 'mae'."""
    objective: str = "dilemma"
    """Token objective: 'dilemma' (mismatch detection, eq. 3.1), 'none' (+Sparsity / dense baseline),
    'position_correction', 'partial_jigsaw' or 'flip_detection' (Table 3.11 ablations)."""
    lambda_dilemma: float = 0.4
    """Weight (>= 0) of the token objective in eq. 3.4; 0 gives the +Sparsity baseline."""
    token_reduction: str = "sum"
    """How the per-token loss is reduced. 'sum' (thesis eq. 3.1): the sum over the student's kept tokens M of
    each image, the mean over images, and (MoCo v3) the sum over the two student views like the symmetrised
    contrastive term of eq. 3.4. 'mean' (ablation; this package's earlier loss): the mean over all kept tokens
    and the mean over the views, i.e. 1 / (2 |M|) of the thesis' weight on the token loss for MoCo v3."""
    theta: float = 0.2
    """Fraction of kept tokens whose position embedding is wrong (or patch flipped / position removed),
    in [0, 1); thesis: 0.2 (Table 3.12 also 0.3)."""
    sparsity: list[float] = field(default_factory=lambda: [0.0, 0.4, 0.55, 0.65])
    """Set of token-dropping ratios in [0, 1) the random schedule draws from each step; [0.0] gives dense
    MoCo v3."""
    batch_multipliers: list[int] = field(default_factory=lambda: [1, 2, 3, 4])
    """Batch-size factor (>= 1) of each sparsity ratio (same length as sparsity) keeping memory about constant."""
    random_sparsity: bool = True
    """Draw the ratio per step; False uses constant_sparsity every step (Table 3.8 ablation)."""
    constant_sparsity: float = 0.75
    """Dropping ratio in [0, 1) when random_sparsity is False (and of DINO's global crops)."""
    constant_multiplier: int = 1
    """Batch multiplier (>= 1) used with constant sparsity."""
    mismatch_on_dense: bool = False
    """Apply the token objective on dense steps too (Table 3.10 '+MD'); the thesis turns it off."""
    drop_policy: str = "random"
    """'random' or 'attention' (keep the tokens the teacher's CLS attends most, Table 3.13)."""
    tau: float = 0.2
    """Temperature (> 0) of the contrastive loss (MoCo v3: 0.2; SimCLR: 0.1)."""
    momentum: float = 0.99
    """Base EMA momentum of the teacher in [0, 1], cosine-increased to 1 (MoCo v3: 0.99)."""
    dino: DINOConfig = field(default_factory=DINOConfig)
    """DINO variant (``method.variant=dino``): head and multi-crop."""
    mae: MAEConfig = field(default_factory=MAEConfig)
    """MAE variant (``method.variant=mae``): masking and decoder."""

    def __post_init__(self) -> None:
        """Refuse unknown choices and out-of-range ratios, naming the ``method.*`` key.

        Raises:
            ConfigError: the first bad field.
        """
        check_choice("method.variant", self.variant, VARIANTS)
        check_choice("method.objective", self.objective, OBJECTIVES)
        check_choice("method.drop_policy", self.drop_policy, DROP_POLICIES)
        check_choice("method.token_reduction", self.token_reduction, TOKEN_REDUCTIONS)
        check_float("method.lambda_dilemma", self.lambda_dilemma, 0.0, strict=False)
        check_float("method.theta", self.theta, 0.0, strict=False, high=1.0, high_strict=True)
        if not self.sparsity:
            raise bad_value("method.sparsity", "a non-empty list of ratios", self.sparsity)
        if len(self.sparsity) != len(self.batch_multipliers):
            raise ConfigError(f"method.sparsity ({len(self.sparsity)} ratios) and method.batch_multipliers "
                              f"({len(self.batch_multipliers)} factors) must have the same length")
        for i, s in enumerate(self.sparsity):
            check_float(f"method.sparsity[{i}]", s, 0.0, strict=False, high=1.0, high_strict=True)
        for i, m in enumerate(self.batch_multipliers):
            check_int(f"method.batch_multipliers[{i}]", m, 1)
        check_float("method.constant_sparsity", self.constant_sparsity, 0.0, strict=False, high=1.0,
                    high_strict=True)
        check_int("method.constant_multiplier", self.constant_multiplier, 1)
        check_float("method.tau", self.tau, 0.0, strict=True)
        check_float("method.momentum", self.momentum, 0.0, strict=False, high=1.0)


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
    """Number (>= 1) of generated SyntheticShapes training images (shapes only)."""
    image_size: int = 32
    """Side in pixels (>= 8) of the generated SyntheticShapes images (shapes only); the views are then
    resized to model.img_size."""
    num_eval_samples: int = 512
    """Number (>= 1) of generated SyntheticShapes evaluation images (shapes only)."""
    min_scale: float = 0.08
    """Lower bound of the random-resized-crop area scale of the two views, in (0, 1] (MoCo v3: 0.08)."""
    augment: str = "mocov3"
    """'mocov3' (BYOL / MoCo v3 views: crop, flip, colour jitter, grayscale, blur, solarize) or 'light' (the
    same without blur and hue jitter, the two slow ops on CPU; for the tiny config)."""

    def __post_init__(self) -> None:
        """Refuse unknown choices and out-of-range sizes, naming the ``data.*`` key.

        Raises:
            ConfigError: the first bad field.
        """
        check_choice("data.name", self.name, DATASETS)
        check_choice("data.augment", self.augment, AUGMENTS)
        check_int("data.num_samples", self.num_samples, 1)
        check_int("data.image_size", self.image_size, 8)
        check_int("data.num_eval_samples", self.num_eval_samples, 1)
        check_float("data.min_scale", self.min_scale, 0.0, strict=True, high=1.0)


@dataclass
class EvalConfig:
    """Evaluations run at the end of training and by dilemma-eval."""

    knn_k: int = 20
    """Neighbours (>= 1) of the weighted k-NN classifier (thesis: 20)."""
    knn_t: float = 0.07
    """Temperature (> 0) of the k-NN vote weights; DINO's 0.07."""
    linear: bool = True
    """Run Linear_F (linear layer on frozen CLS features, small grid)."""
    linear_epochs: int = 100
    """Epochs (>= 1) of each Linear_F run."""
    few_shot: list[float] = field(default_factory=lambda: [0.01, 0.1])
    """Class-balanced label fractions in (0, 1] for the few-shot evaluation ([]: none)."""
    mismatch: bool = True
    """Report mismatch-detection accuracy (Table 3.10) at each schedule sparsity."""
    segmentation: bool = False
    """CLS-attention Jaccard and linear per-token segmentation probe (needs masks: data.name=shapes)."""
    batch_size: int = 256
    """Images per batch (>= 1) of feature extraction."""
    max_train_samples: int | None = None
    """Use at most this many (>= 1, evenly spaced) training images as the k-NN / linear train set
    (None: all)."""
    max_test_samples: int | None = None
    """Use at most this many (>= 1, evenly spaced) test images (None: all)."""

    def __post_init__(self) -> None:
        """Refuse out-of-range values, naming the ``eval.*`` key (ConfigError on the first bad field)."""
        for name in ("knn_k", "linear_epochs", "batch_size"):
            check_int(f"eval.{name}", getattr(self, name), 1)
        check_int("eval.max_train_samples", self.max_train_samples, 1, optional=True)
        check_int("eval.max_test_samples", self.max_test_samples, 1, optional=True)
        check_float("eval.knn_t", self.knn_t, 0.0, strict=True)
        for i, frac in enumerate(self.few_shot):
            check_float(f"eval.few_shot[{i}]", frac, 0.0, strict=True, high=1.0)


@dataclass
class DilemmaRunConfig:
    """dilemma-train: DILEMMA self-supervised pre-training (thesis ch. 3) with a final evaluation."""

    model: ModelConfig = field(default_factory=ModelConfig)
    """Backbone architecture and projection heads."""
    method: MethodConfig = field(default_factory=MethodConfig)
    """SSL method, token objective and sparsity schedule."""
    data: DataConfig = field(default_factory=DataConfig)
    """Training and evaluation images."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """Final (and dilemma-eval) evaluations."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Engine loop (sparse-core's TrainConfig): steps, batch,
    precision, checkpoints."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """AdamW and its schedules."""

    def validate(self) -> None:
        """Paths the run will need, checked before any work (sparse_core.preflight calls it).

        Raises:
            ConfigError: ``data.name imagefolder`` without an existing ``data.root`` or ``data.eval_root`` folder
                (the final evaluation reads ``eval_root``).
        """
        if self.data.name == "imagefolder":
            for key, path in (("data.root", self.data.root), ("data.eval_root", self.data.eval_root)):
                require_path(path, key, "dir")

    def __post_init__(self) -> None:
        """Cross-group checks: DINO's local crops must be whole numbers of patches too.

        Raises:
            ConfigError: naming both keys.
        """
        if self.method.variant == "dino" and self.method.dino.local_crops:
            check_divisible("method.dino.local_size", self.method.dino.local_size, "model.patch_size",
                            self.model.patch_size)
