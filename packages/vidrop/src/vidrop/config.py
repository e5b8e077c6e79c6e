"""Run configuration of ViDROP: nested dataclasses parsed by ``sparse_core.config.parse_config``.

Defaults follow the thesis (ch. 6) where it states a value and DINOv2's published defaults where it does not;
each field's docstring names its source. Shipped YAMLs live in ``vidrop/configs`` (``--config NAME``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sparse_core.config import ConfigError
from sparse_core.data.video import VideoDataConfig
from sparse_core.engine import OptimConfig, TrainConfig
from sparse_core.validation import check_choice, check_divisible, check_float, check_int, check_interval

__all__ = ["ViewsConfig", "EncoderConfig", "HeadConfig", "LossConfig", "TokenConfig", "DataConfig", "InitConfig",
           "ViDROPConfig", "CONFIG_DIR", "CodebookFitConfig", "CodesEncodeConfig", "CodesDecodeConfig",
           "CodecPsnrConfig", "COMPRESS_COMMANDS", "LOSS_VARIANTS", "CENTERINGS", "DROP_PATTERNS",
           "INIT_KINDS", "POS_EMBEDS"]

CONFIG_DIR = Path(__file__).parent / "configs"

LOSS_VARIANTS = ("ibot", "dino", "stare")
"""``loss.variant`` choices (Table 6.1a)."""
CENTERINGS = ("sinkhorn", "centering")
"""``loss.centering`` choices: DINOv2's Sinkhorn-Knopp or DINO's softmax centering."""
DROP_PATTERNS = ("random", "tube", "block")
"""``tokens.drop_pattern`` choices (Table 6.1c)."""
INIT_KINDS = ("random", "videomae", "vjepa")
"""``init.kind`` choices (Table 6.2)."""
POS_EMBEDS = ("sincos", "learned")
"""``encoder.pos_embed_type`` choices."""


def _check_ratio(key: str, value: object, high_strict: bool = False) -> None:
    """``value`` is a fraction in [0, 1] (or [0, 1) with ``high_strict``)."""
    check_float(key, value, 0.0, strict=False, high=1.0, high_strict=high_strict)


@dataclass
class ViewsConfig:
    """How clips are cut from a video. Defaults: thesis sec. 6.3.1; crop scales from DINOv2."""

    num_global: int = 2
    """Large clips per video (teacher dense, student dropped + masked)."""
    global_frames: int = 16
    """Frames per large clip (thesis: 16)."""
    global_size: int = 224
    """Side of a large clip in pixels (thesis: 224)."""
    global_scale: tuple[float, float] = (0.32, 1.0)
    """Area range of the large-clip crop box (DINOv2 default global_crops_scale)."""
    num_local: int = 8
    """Small clips per video (thesis: 8; Table 6.1b also 4 and 0)."""
    local_frames: int = 8
    """Frames per small clip (thesis: 8)."""
    local_size: int = 96
    """Side of a small clip (thesis: 96)."""
    local_scale: tuple[float, float] = (0.05, 0.32)
    """Area range of the small-clip crop box (DINOv2 default local_crops_scale)."""
    frame_stride: int = 4
    """Temporal stride between sampled frames (VideoMAE / V-JEPA use 4 on Kinetics)."""
    hflip: bool = False
    """Random horizontal flip (off by default: minimal augmentation, and it would flip left/right motions)."""
    color_jitter: float = 0.0
    """Strength of a per-clip colour jitter (random per-channel gain and offset, shared by the clip's frames).
    0 (default, thesis: crops only). One way to remove the procedural clips' colour shortcut (two views of a
    video matched by colour); the tiny config uses appearance redraws and ``global_windows`` instead, which
    is cheaper (jitter cost about 3x the view sampling time) and also removes shape and texture cues
    (docs/study.md)."""
    grayscale_prob: float = 0.0
    """Probability in [0, 1] that a clip is turned to grey (DINO-style; 0 by default, thesis: crops only)."""
    global_windows: int = 0
    """Split the video into this many equal time windows and draw large clip ``i`` inside window
    ``i mod global_windows`` (temporally distant positives, as CVRL's / rho-BYOL's long-range clips); 0
    (default): every clip starts anywhere. With procedural clips whose appearance is redrawn every
    ``data.segment_frames = num_frames / global_windows`` frames, two large clips then share only the motion;
    with ``moving_fashion`` they are two temporal windows of one video sharing content and motion."""
    local_windows: bool = True
    """With ``global_windows`` > 0, cut small clip ``j`` inside window ``j mod global_windows`` too (True,
    default), so no small clip straddles a window border (e.g. the procedural clips' appearance cut, which
    would give the large-to-small pairs an appearance shortcut); False: small clips start anywhere in the
    video (the behaviour before 2026-12-07). No effect when ``global_windows`` is 0."""

    def __post_init__(self) -> None:
        """Refuse out-of-range counts, sizes and scales, naming the ``views.*`` key.

        Raises:
            ConfigError: the first bad field.
        """
        for name in ("num_global", "global_frames", "global_size", "local_frames", "local_size", "frame_stride"):
            check_int(f"views.{name}", getattr(self, name), 1)
        check_int("views.num_local", self.num_local, 0)
        check_int("views.global_windows", self.global_windows, 0)
        check_interval("views.global_scale", self.global_scale, 0.0, 1.0, strict_low=True)
        check_interval("views.local_scale", self.local_scale, 0.0, 1.0, strict_low=True)
        check_float("views.color_jitter", self.color_jitter, 0.0, strict=False)
        _check_ratio("views.grayscale_prob", self.grayscale_prob)


@dataclass
class EncoderConfig:
    """Video ViT architecture (ViT-B/16 with 2-frame tubelets by default, as VideoMAE / V-JEPA)."""

    img_size: int = 224
    """Side of the large clips in pixels (>= 1, a multiple of patch_size; thesis: 224);
    small clips get interpolated position embeddings."""
    num_frames: int = 16
    """Frames of the large clips (thesis: 16)."""
    tubelet_size: int = 2
    """Frames per token (VideoMAE: 2)."""
    patch_size: int = 16
    """Pixels per token side, >= 1
    (ViT-B/16: 16)."""
    embed_dim: int = 768
    """Token width (ViT-B)."""
    depth: int = 12
    """Transformer blocks (ViT-B)."""
    num_heads: int = 12
    """Attention heads (ViT-B)."""
    drop_path_rate: float = 0.1
    """Stochastic depth of the student (not given by the thesis; DINOv2 uses 0.1-0.4 by model size)."""
    pos_embed_type: str = "sincos"
    """'sincos' (VideoMAE's fixed table; needed for VideoMAE init) or 'learned' (needed for V-JEPA init)."""
    grad_checkpointing: bool = False
    """Recompute block activations in backward (saves memory at paper scale)."""

    def __post_init__(self) -> None:
        """Refuse out-of-range sizes and shapes that do not tile into tokens, naming the ``encoder.*`` key.

        Raises:
            ConfigError: the first bad field.
        """
        for name in ("img_size", "num_frames", "tubelet_size", "patch_size", "embed_dim", "depth", "num_heads"):
            check_int(f"encoder.{name}", getattr(self, name), 1)
        check_divisible("encoder.img_size", self.img_size, "encoder.patch_size", self.patch_size)
        check_divisible("encoder.num_frames", self.num_frames, "encoder.tubelet_size", self.tubelet_size)
        check_divisible("encoder.embed_dim", self.embed_dim, "encoder.num_heads", self.num_heads)
        _check_ratio("encoder.drop_path_rate", self.drop_path_rate, high_strict=True)
        check_choice("encoder.pos_embed_type", self.pos_embed_type, POS_EMBEDS)


@dataclass
class HeadConfig:
    """DINO / iBOT projection heads (DINOv2 defaults: 3 layers, hidden 2048, bottleneck 256)."""

    out_dim: int = 65536
    """CLS prototypes (DINOv2: 65536; Table 6.1e: 16384 and 2048 ablations)."""
    patch_out_dim: int = 65536
    """Patch prototypes of the iBOT head (DINOv2: 65536)."""
    hidden_dim: int = 2048
    """Hidden width of the MLP (DINOv2)."""
    bottleneck_dim: int = 256
    """Bottleneck width (>= 1) before the weight-normalised prototype layer
    (DINOv2: 256)."""
    num_layers: int = 3
    """MLP layers (DINOv2)."""
    shared: bool = False
    """One head for the CLS and patch losses (Table 6.1e ablation; separate heads are better)."""
    norm_last_layer: bool = False
    """Freeze the weight-norm magnitude g = 1 of the prototype layer (DINO v1's norm_last_layer). False
    (default) trains g from 1, as DINOv2's DINOHead (dinov2/layers/dino_head.py)."""
    freeze_last_layer_epochs: int = 1
    """Epochs (passes over the training set) during which the prototype layers of both heads have lr 0, so
    neither AdamW nor its weight decay moves them (DINOv2 optim.freeze_last_layer_epochs: 1)."""

    def __post_init__(self) -> None:
        """Refuse non-positive widths, naming the ``head.*`` key (ConfigError on the first bad field)."""
        for name in ("out_dim", "patch_out_dim", "hidden_dim", "bottleneck_dim", "num_layers"):
            check_int(f"head.{name}", getattr(self, name), 1)


@dataclass
class LossConfig:
    """Loss composition (sec. 6.2.2) and teacher schedules (DINOv2 defaults)."""

    variant: str = "ibot"
    """'ibot' (CLS DINO loss + patch loss on MSK tokens), 'dino' (CLS loss only) or 'stare' (patch loss on
    the visible tokens, no MSK): Table 6.1a."""
    centering: str = "sinkhorn"
    """Teacher target normalisation: 'sinkhorn' (DINOv2, default) or 'centering' (softmax centering, DINO)."""
    dino_weight: float = 1.0
    """Weight of the CLS (global-global + global-local) DINO loss (DINOv2: 1)."""
    ibot_weight: float = 1.0
    """Weight of the patch loss (DINOv2: 1)."""
    koleo_weight: float = 0.1
    """Weight of the KoLeo regulariser on the student's large-clip CLS tokens
    (DINOv2: 0.1)."""
    student_temp: float = 0.1
    """Student softmax temperature (DINO / DINOv2)."""
    teacher_temp: float = 0.07
    """Teacher temperature after warm-up (DINOv2: 0.07)."""
    warmup_teacher_temp: float = 0.04
    """Teacher temperature at step 0
    (DINOv2: 0.04)."""
    teacher_temp_warmup_frac: float = 0.3
    """Fraction of training spent warming the teacher temperature up (DINOv2: 30 of 100 epochs)."""
    momentum_teacher: float = 0.992
    """EMA momentum at step 0, cosine to 1 at the end (DINOv2: 0.992)."""
    center_momentum: float = 0.9
    """Momentum in [0, 1] of the softmax centers
    (only with centering='centering')."""

    def __post_init__(self) -> None:
        """Refuse unknown choices, negative weights and non-positive temperatures, naming the ``loss.*`` key.

        Raises:
            ConfigError: the first bad field.
        """
        check_choice("loss.variant", self.variant, LOSS_VARIANTS)
        check_choice("loss.centering", self.centering, CENTERINGS)
        for name in ("dino_weight", "ibot_weight", "koleo_weight"):
            check_float(f"loss.{name}", getattr(self, name), 0.0, strict=False)
        for name in ("student_temp", "teacher_temp", "warmup_teacher_temp"):
            check_float(f"loss.{name}", getattr(self, name), 0.0, strict=True)
        for name in ("teacher_temp_warmup_frac", "momentum_teacher", "center_momentum"):
            _check_ratio(f"loss.{name}", getattr(self, name))


@dataclass
class TokenConfig:
    """Student token dropping and masking of the large clips (sec. 6.2.1, 6.3.1; Table 6.1c,d,f)."""

    drop_ratio: float = 0.85
    """Fraction of tokens dropped for the student (thesis 0.85; 0 gives the dense DINOv2-style model)."""
    drop_pattern: str = "random"
    """'random' tokens (default), 'tube' or 'block' (V-JEPA multi-block): Table 6.1c."""
    mask_ratio: tuple[float, float] = (0.1, 0.4)
    """Range of the fraction of kept tokens replaced by MSK in a masked clip (Table 6.1f)."""
    mask_sample_fraction: float = 0.5
    """Fraction in [0, 1] of the large clips that are masked (thesis / iBOT / DINOv2: half of the batch)."""

    def __post_init__(self) -> None:
        """Refuse ratios out of range, naming the ``tokens.*`` key (a drop ratio of 1 would keep no token).

        Raises:
            ConfigError: the first bad field.
        """
        _check_ratio("tokens.drop_ratio", self.drop_ratio, high_strict=True)
        check_choice("tokens.drop_pattern", self.drop_pattern, DROP_PATTERNS)
        check_interval("tokens.mask_ratio", self.mask_ratio, 0.0, 1.0)
        _check_ratio("tokens.mask_sample_fraction", self.mask_sample_fraction)


@dataclass
class DataConfig(VideoDataConfig):
    """Where training videos come from: sparse-core's video data config plus ViDROP's codec fields."""

    source: str = "procedural"
    """'moving_fashion' (sparse-core's MovingFashion: Fashion-MNIST garments moving and bouncing, labels content
    and motion; fields ``max_objects``, ``num_directions``, ``label_kind``, ``garments_root``), 'procedural'
    (sparse-core's MotionShapes, the class is the motion only), 'video' (raw files through decord) or 'codes'
    (k-means arrays)."""
    codebook: str | None = None
    """Codebook .npz for source 'codes' (default root/codebook.npz)."""
    max_frames: int | None = 64
    """Decode at most this many (>= 1) consecutive frames per raw video (random window; None: all)."""
    radius_range: tuple[float, float] = (0.12, 0.2)
    """Procedural: circumradius range of the moving shape, as fractions of the frame side (0 < low <= high)."""
    speed_scale: float = 1.0
    """Procedural: multiplier (> 0) of every motion rate; 1 moves a shape by 0.5-0.75 of the frame over the
    whole video, so longer videos move slower per frame unless this grows with ``num_frames``."""

    def __post_init__(self) -> None:
        """The shared video-data checks plus ViDROP's frame limits, naming the ``data.*`` key.

        ``source`` is looked up in sparse-core's dataset registry when the dataset is built (before training),
        which lists the registered sources; generated clips need at least one frame.

        Raises:
            ConfigError: the first bad field.
        """
        super().__post_init__()
        if self.source in ("procedural", "moving_fashion"):
            check_int("data.num_frames", self.num_frames, 1)
        check_int("data.max_frames", self.max_frames, 1, optional=True)
        check_interval("data.radius_range", self.radius_range, 0.0, 1.0, strict_low=True)
        check_float("data.speed_scale", self.speed_scale, 0.0, strict=True)


@dataclass
class InitConfig:
    """Backbone initialisation (Table 6.2), from local files only."""

    kind: str = "random"
    """'random', 'videomae' (Hugging Face VideoMAE checkpoint) or 'vjepa' (V-JEPA encoder checkpoint)."""
    path: str | None = None
    """Checkpoint file or Hugging Face model folder for 'videomae' / 'vjepa'."""

    def __post_init__(self) -> None:
        """Refuse an unknown ``init.kind``, listing the choices; ConfigError: an unknown kind."""
        check_choice("init.kind", self.kind, INIT_KINDS)


@dataclass
class ViDROPConfig:
    """ViDROP: video self-distillation with token dropping and mask tokens (thesis ch. 6)."""

    train: TrainConfig = field(default_factory=lambda: TrainConfig(out_dir="runs/vidrop", epochs=60, batch_size=512))
    """Loop, batch and checkpointing (thesis: 60 epochs, batch 512 with accumulation)."""
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(
        lr=4e-3, scale_lr=True, scale_lr_rule="sqrt", scale_lr_batch=1024, min_lr=1e-6, weight_decay=0.04,
        weight_decay_end=0.2))
    """AdamW, DINOv2's rule (dinov2/configs/ssl_default_config.yaml, dinov2/utils/config.py): base lr 4e-3 at
    batch 1024 with square-root scaling, lr = 4e-3 * sqrt(batch_size / 1024) (2.83e-3 at the thesis' 512);
    min lr 1e-6; weight decay cosine 0.04 -> 0.2 (DINOv2's ViT-L/14 and ViT-g/14 configs; its default
    ImageNet-1k ViT-L/16 config ends at 0.4). The thesis gives no optimizer values for ViDROP."""
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """Video ViT architecture."""
    head: HeadConfig = field(default_factory=HeadConfig)
    """DINO / iBOT heads."""
    loss: LossConfig = field(default_factory=LossConfig)
    """Loss composition and teacher schedules."""
    tokens: TokenConfig = field(default_factory=TokenConfig)
    """Student token dropping and masking."""
    views: ViewsConfig = field(default_factory=ViewsConfig)
    """Large / small clip sampling."""
    data: DataConfig = field(default_factory=DataConfig)
    """Training data."""
    init: InitConfig = field(default_factory=InitConfig)
    """Backbone initialisation."""

    def __post_init__(self) -> None:
        """Cross-group checks: every clip the views cut must tile into the encoder's tubelets.

        Raises:
            ConfigError: a clip side or length that is not a whole number of patches / tubelets.
        """
        enc, views = self.encoder, self.views
        check_divisible("views.global_size", views.global_size, "encoder.patch_size", enc.patch_size)
        check_divisible("views.global_frames", views.global_frames, "encoder.tubelet_size", enc.tubelet_size)
        if views.num_local:
            check_divisible("views.local_size", views.local_size, "encoder.patch_size", enc.patch_size)
            check_divisible("views.local_frames", views.local_frames, "encoder.tubelet_size", enc.tubelet_size)


def _required(cfg: object, *names: str) -> None:
    missing = [n for n in names if getattr(cfg, n) in (None, "")]
    if missing:
        raise ConfigError(f"{type(cfg).__doc__.split(':')[0]} needs " + ", ".join(f"--{n}" for n in missing))


@dataclass
class CodebookFitConfig:
    """vidrop-compress fit: fit a k-means codebook on pixel patches (thesis sec. 6.2.4)."""

    out: str | None = None
    """Codebook file to write (.npz); required."""
    videos: str | None = None
    """Folder root/<class>/<video> to sample patches from (or use `procedural`)."""
    procedural: int | None = None
    """Fit on this many in-package procedural clips instead of a folder (the tiny setting)."""
    patch_size: int = 10
    """Patch side p (thesis: 10)."""
    clusters: int = 65536
    """Codebook size K (thesis: 65536)."""
    patches_per_video: int = 2000
    """Patches sampled per video."""
    max_frames: int = 64
    """Frames decoded per video."""
    niter: int = 20
    """k-means iterations."""
    seed: int = 0
    """Patch sampling and k-means seed."""
    gpu: bool = False
    """k-means on GPUs (needs faiss-gpu: vidrop[gpu])."""

    def __post_init__(self) -> None:
        _required(self, "out")
        if (self.videos is None) == (self.procedural is None):
            raise ConfigError("vidrop-compress fit needs exactly one of --videos FOLDER or --procedural N")
        check_int("procedural", self.procedural, 1, optional=True)
        for name in ("patch_size", "clusters", "patches_per_video", "max_frames", "niter"):
            check_int(name, getattr(self, name), 1)
        check_int("seed", self.seed, 0)


@dataclass
class CodesEncodeConfig:
    """vidrop-compress encode: encode a video folder to .npy code arrays."""

    codebook: str | None = None
    """Codebook file (.npz); required."""
    src: str | None = None
    """Video folder root/<class>/<video>; required."""
    dst: str | None = None
    """Output root/<class>/<video>.npy (+ codebook.npz); required."""
    max_frames: int | None = None
    """Encode at most this many frames per video (None: all)."""

    def __post_init__(self) -> None:
        _required(self, "codebook", "src", "dst")
        check_int("max_frames", self.max_frames, 1, optional=True)


@dataclass
class CodesDecodeConfig:
    """vidrop-compress decode: decode a code array to a video (.mp4 / .gif) or frames (.npy)."""

    codebook: str | None = None
    """Codebook file (.npz); required."""
    codes: str | None = None
    """Code array (.npy) written by `encode`;
    required."""
    out: str | None = None
    """Output file: .mp4, .gif or .npy; required."""

    def __post_init__(self) -> None:
        _required(self, "codebook", "codes", "out")


@dataclass
class CodecPsnrConfig:
    """vidrop-compress psnr: round-trip a video and report PSNR, compression factor and timings."""

    codebook: str | None = None
    """Codebook file (.npz); required."""
    video: str | None = None
    """Video file to round-trip; required."""
    max_frames: int | None = None
    """Read at most this many frames (None: all)."""

    def __post_init__(self) -> None:
        _required(self, "codebook", "video")
        check_int("max_frames", self.max_frames, 1, optional=True)


COMPRESS_COMMANDS: dict[str, type] = {
    "fit": CodebookFitConfig,
    "encode": CodesEncodeConfig,
    "decode": CodesDecodeConfig,
    "psnr": CodecPsnrConfig,
}
"""The subcommands of ``vidrop-compress`` and the typed config of each."""
