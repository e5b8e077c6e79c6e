"""Run configuration of SF-CLIP (thesis ch. 7): nested dataclasses parsed by ``sparse_core.config.parse_config``.

Defaults follow the thesis (sec. 7.2-7.3) where it states a value; shipped YAMLs live in ``sfclip/configs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sparse_core.config import ConfigError
from sparse_core.engine import OptimConfig, TrainConfig
from sparse_core.engine.progress import check_progress
from sparse_core.preflight import OUTPUT_DIR
from sparse_core.validation import bad_value, check_choice, check_divisible, check_each, check_float, check_int

__all__ = ["VisionConfig", "TextConfig", "TeacherConfig", "DistillConfig", "DataConfig", "PrecomputeConfig",
           "PrecomputeRunConfig",
           "SFCLIPConfig", "CONFIG_DIR", "VISION_TEACHERS", "TEXT_TEACHERS", "DATA_SOURCES", "STORE_DTYPES",
           "DISTILL_REDUCTIONS"]

CONFIG_DIR = Path(__file__).parent / "configs"

VISION_TEACHERS = ("efficientnet_lite0", "dinov2", "sam", "dinov2_tiny_random", "sam_tiny_random")
"""``teacher.vision`` entries: a pretrained EfficientNet-Lite0 (shipped in a package), a DINOv2 from a local
path or hub id (``teacher.vision_path``), a SAM image encoder (``teacher.sam_path``), or tiny random DINOv2 /
SAM configs (architecture paths only)."""
TEXT_TEACHERS = ("hf", "bert_tiny_random", "xglm_tiny_random", "minilm")
"""``teacher.text`` choices: any Hugging Face encoder or causal LM at ``teacher.text_path`` (thesis: XGLM), a
tiny random BERT or a tiny random 2-layer XGLM (both with all-MiniLM's tokenizer), or the packaged
all-MiniLM-L6-v2."""
DATA_SOURCES = ("shapes", "folder", "webdataset", "openclipart", "emoji")
"""``data.source`` choices (the sources :mod:`sfclip.data` registers): procedural coloured shapes with
captions, a folder of image + ``.txt`` pairs, webdataset tar shards (``data.shards``), openclipart (title +
keyword tags; Debian ``openclipart-svg`` + ``openclipart-png``) or rendered emoji with their English names
(Debian ``fonts-noto-color-emoji`` + PyPI ``emoji``)."""
DISTILL_REDUCTIONS = ("sum", "mean")
"""``distill.reduction`` choices over the feature width D of eq. 7.2-7.3: the squared L2 norm (sum over D, the
equation as written) or its per-dimension mean (divided by D)."""
STORE_DTYPES = ("float16", "float32")
"""``precompute.dtype`` choices: storage type of precomputed teacher features."""


@dataclass
class VisionConfig:
    """Student vision tower (ViT-B/16 by default, thesis sec. 7.3)."""

    img_size: int = 224
    """Image side in pixels (a multiple of patch_size)."""
    patch_size: int = 16
    """Pixels per token side."""
    embed_dim: int = 768
    """Token width."""
    depth: int = 12
    """Transformer blocks."""
    num_heads: int = 12
    """Attention heads."""

    def __post_init__(self) -> None:
        """Refuse non-positive sizes and images that do not tile into patches.

        Raises:
            ConfigError: the first bad field.
        """
        for name in ("img_size", "patch_size", "embed_dim", "depth", "num_heads"):
            check_int(f"vision.{name}", getattr(self, name), 1)
        check_divisible("vision.img_size", self.img_size, "vision.patch_size", self.patch_size)
        check_divisible("vision.embed_dim", self.embed_dim, "vision.num_heads", self.num_heads)


@dataclass
class TextConfig:
    """Student text tower: CLIP's text transformer shape with non-causal attention (thesis sec. 7.2)."""

    width: int = 512
    """Token width (CLIP ViT-B/16: 512)."""
    depth: int = 12
    """Transformer blocks (CLIP: 12)."""
    num_heads: int = 8
    """Attention heads (CLIP: 8)."""
    context_length: int = 77
    """Maximum tokens per caption (CLIP: 77)."""
    word_embedding_projection: bool = True
    """Input = learned linear projection of the text teacher's frozen word embeddings (thesis); False: learned
    embeddings of the teacher's vocabulary (Table 7.8 ablation)."""

    def __post_init__(self) -> None:
        """Refuse non-positive sizes.

        Raises:
            ConfigError: the first bad field.
        """
        for name in ("width", "depth", "num_heads", "context_length"):
            check_int(f"text.{name}", getattr(self, name), 1)
        check_divisible("text.width", self.width, "text.num_heads", self.num_heads)


@dataclass
class TeacherConfig:
    """Frozen teachers (never trained, never exported)."""

    vision: list[str] = field(default_factory=lambda: ["dinov2"])
    """Vision teachers, each one of :data:`VISION_TEACHERS`, each distilled through its own projection
    (thesis: DINOv2 and SAM, Table 7.9); empty: no image teacher (Table 7.8 ablation)."""
    vision_path: str = "facebook/dinov2-base"
    """Local folder or hub id of the DINOv2 teacher (``vision: dinov2``)."""
    sam_path: str = "facebook/sam-vit-huge"
    """Local folder or hub id of the SAM teacher (``vision: sam``; its image encoder only)."""
    vision_size: int = 224
    """Side of the images the vision teacher sees."""
    text: str = "hf"
    """Text teacher, one of :data:`TEXT_TEACHERS`."""
    text_path: str = "facebook/xglm-564M"
    """Local folder or hub id of the text teacher (``text: hf``); its tokenizer is the student's."""

    def __post_init__(self) -> None:
        """Refuse unknown teacher kinds.

        Raises:
            ConfigError: the first bad field.
        """
        check_each("teacher.vision", self.vision, VISION_TEACHERS)
        if len(set(self.vision)) != len(self.vision):
            raise bad_value("teacher.vision", "distinct teachers", self.vision)
        check_choice("teacher.text", self.text, TEXT_TEACHERS)
        check_int("teacher.vision_size", self.vision_size, 1)


@dataclass
class DistillConfig:
    """Masked distillation on a random subset of each batch (thesis eq. 7.2-7.4, sec. 7.2.2)."""

    image_ratio: float = 0.25
    """Fraction of the batch distilled from the vision teacher (thesis: 1024 of 4096)."""
    text_ratio: float = 0.125
    """Fraction of the batch distilled from the text teacher (thesis: 512 of 4096)."""
    text_mask_ratio: float = 0.25
    """Largest fraction of a caption's tokens masked for the student (thesis: up to 25 %); the ratio of each
    caption is uniform in [0, text_mask_ratio]."""
    image_mask_ratio: float = 0.0
    """Fraction of the distilled images' patches replaced by the mask token (optional; thesis default off)."""
    lambda_image: float = 1.0
    """Weight lambda_1 of the image distillation loss (eq. 7.4; thesis: 1)."""
    lambda_text: float = 1.0
    """Weight lambda_2 of the text distillation loss (eq. 7.4; thesis: 1)."""
    reduction: str = "sum"
    """Reduction over the feature width D, one of :data:`DISTILL_REDUCTIONS`: ``sum`` is eq. 7.2-7.3's
    squared L2 norm per token (the thesis; tokens then averaged); ``mean`` divides it by D, i.e. PyTorch's
    ``F.mse_loss`` element mean as in open_clip-style distillation code, so that lambda does not depend on the
    teacher width (DINOv2-L: D = 1024, XGLM-1.7B: 2048; with lambda = 1 it weighs the distillation D times
    less than the thesis)."""
    precomputed: str = ""
    """Folder of teacher features written by ``sfclip-precompute`` for this data and these teachers (sec.
    7.2.2); training reads the subset's targets from it and never runs the teachers. Empty: online teachers."""

    def __post_init__(self) -> None:
        """Refuse ratios outside [0, 1] and negative weights.

        Raises:
            ConfigError: the first bad field.
        """
        for name in ("image_ratio", "text_ratio", "text_mask_ratio"):
            check_float(f"distill.{name}", getattr(self, name), 0.0, strict=False, high=1.0)
        check_float("distill.image_mask_ratio", self.image_mask_ratio, 0.0, strict=False, high=1.0, high_strict=True)
        check_float("distill.lambda_image", self.lambda_image, 0.0, strict=False)
        check_float("distill.lambda_text", self.lambda_text, 0.0, strict=False)
        check_choice("distill.reduction", self.reduction, DISTILL_REDUCTIONS)

    @property
    def image_on(self) -> bool:
        """Whether image distillation runs at all (ratio and weight > 0; a vision teacher is also needed)."""
        return self.image_ratio > 0 and self.lambda_image > 0

    @property
    def text_on(self) -> bool:
        """Whether text distillation runs at all (ratio and weight > 0); off = "no text teacher" (Table 7.8)."""
        return self.text_ratio > 0 and self.lambda_text > 0


@dataclass
class DataConfig:
    """Training image-text pairs."""

    source: str = "folder"
    """'folder' (image + .txt pairs under data.root), 'webdataset' (tar shards, data.shards), 'openclipart'
    (Debian openclipart-svg/-png: title + keyword tags), 'emoji' (Noto Color Emoji, names in 14 languages) or
    'shapes' (procedural coloured shapes with template captions)."""
    root: str = ""
    """Folder of ``name.<image ext>`` + ``name.txt`` pairs (``source: folder``); the folder holding ``svg/``
    and ``png/`` (``source: openclipart``, empty: ``/usr/share/openclipart``); the emoji font file
    (``source: emoji``, empty: Debian's Noto Color Emoji)."""
    split: str = "train"
    """``train`` or ``test`` (``source: openclipart``: a seeded split by file; ``shapes``: test = seed + 1000)."""
    test_fraction: float = 0.1
    """Share of the openclipart files held out as the test split (seeded by ``data.seed``)."""
    rewrites: list[str] = field(default_factory=list)
    """LaCLIP rewrite files (one rewrite per line, line k = pair k: the number of a webdataset key, else the
    dataset index); each sample's captions are then ``[original, *rewrites]``, one drawn per step."""
    rewrite_min_words: int = 2
    """A rewrite with fewer words is replaced by the original (LaCLIP's rule for failed generations)."""
    shards: str = ""
    """Webdataset tar shards (``source: webdataset``): a path or brace pattern such as
    ``/data/cc12m/{00000..01242}.tar``, several joined by ``::`` (webdataset's separator); each sample is
    ``<key>.jpg|png|webp`` + ``<key>.txt`` (or ``.json`` with a ``caption``). Quote it in YAML."""
    index_cache: str = ""
    """Folder keeping the member list of each tar shard (``source: webdataset``), so later runs and the other
    processes of a launch skip the header scan; empty: scan the shards every time."""
    num_pairs: int = 512
    """Pairs generated (``source: shapes``)."""
    seed: int = 0
    """Seed of the generated pairs."""

    def __post_init__(self) -> None:
        """Refuse an unknown source or a non-positive count.

        Raises:
            ConfigError: the first bad field.
        """
        check_choice("data.source", self.source, DATA_SOURCES)
        check_int("data.num_pairs", self.num_pairs, 1)
        check_choice("data.split", self.split, ("train", "test"))
        check_float("data.test_fraction", self.test_fraction, 0.0, strict=False, high=1.0, high_strict=True)
        check_int("data.rewrite_min_words", self.rewrite_min_words, 0)
        if self.source == "webdataset" and not self.shards:
            raise bad_value("data.shards", "at least one tar path or brace pattern with data.source webdataset",
                            self.shards)


@dataclass
class PrecomputeConfig:
    """``sfclip-precompute``: teacher features of every training pair, written to ``distill.precomputed``."""

    batch_size: int = 64
    """Pairs per teacher forward pass."""
    shard_size: int = 1024
    """Dataset indices per store shard (the unit of resumption)."""
    dtype: str = "float16"
    """Storage type, one of :data:`STORE_DTYPES` (float32 reproduces the online loss exactly)."""
    device: str = "auto"
    """Where the teachers run: ``auto`` (CUDA when present), ``cpu``, ``cuda``, ``cuda:1``..."""
    num_workers: int = 0
    """Data-loading worker processes."""
    progress: bool | str = "auto"
    """Pairs done so far with the ETA: 'auto' (a bar on a terminal, a line every ~5 % otherwise), true, false."""

    def __post_init__(self) -> None:
        """Refuse non-positive sizes, an unknown dtype or progress mode.

        Raises:
            ConfigError: the first bad field.
        """
        check_int("precompute.batch_size", self.batch_size, 1)
        check_int("precompute.shard_size", self.shard_size, 1)
        check_int("precompute.num_workers", self.num_workers, 0)
        check_choice("precompute.dtype", self.dtype, STORE_DTYPES)
        check_progress("precompute.progress", self.progress)


@dataclass
class SFCLIPConfig:
    """SF-CLIP: CLIP with masked distillation from frozen vision and language teachers (thesis ch. 7)."""

    train: TrainConfig = field(default_factory=lambda: TrainConfig(out_dir="runs/sfclip", epochs=25,
                                                                   batch_size=4096))
    """Loop, batch and checkpointing (thesis: 25 epochs, batch 4096)."""
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=5e-4, scale_lr=False, weight_decay=0.2,
                                                                   weight_decay_end=0.2))
    """AdamW (open_clip's YFCC/CC12M recipe: lr 5e-4, weight decay 0.2)."""
    embed_dim: int = 512
    """Joint embedding width (CLIP ViT-B/16: 512)."""
    vision: VisionConfig = field(default_factory=VisionConfig)
    """Student vision tower."""
    text: TextConfig = field(default_factory=TextConfig)
    """Student text tower."""
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    """Frozen teachers."""
    distill: DistillConfig = field(default_factory=DistillConfig)
    """Masked distillation."""
    data: DataConfig = field(default_factory=DataConfig)
    """Training pairs."""
    precompute: PrecomputeConfig = field(default_factory=PrecomputeConfig)
    """Settings of ``sfclip-precompute`` (training ignores them)."""

    def __post_init__(self) -> None:
        """Refuse a non-positive joint width.

        Raises:
            ConfigError: the bad field.
        """
        check_int("embed_dim", self.embed_dim, 1)


@dataclass
class PrecomputeRunConfig(SFCLIPConfig):
    """``sfclip-precompute``: the frozen teachers' features of every training pair, written once (sec. 7.2.2).

    Its own keys are ``--out`` and ``--precompute.*`` (shown first by ``--help``); the rest are the training
    run's keys (data, teachers, sizes, seed), which must be those ``sfclip-train`` then runs with.
    """

    out: str = field(default="", metadata=OUTPUT_DIR)
    """Folder the teacher-feature store is written to (then ``sfclip-train --distill.precomputed`` it). Empty:
    ``distill.precomputed``."""

    def __post_init__(self) -> None:
        """``out`` becomes ``distill.precomputed``; one of the two is required.

        Raises:
            ConfigError: neither is given, or they name different folders.
        """
        super().__post_init__()
        if self.out and self.distill.precomputed and self.out != self.distill.precomputed:
            raise bad_value("out", f"the same folder as distill.precomputed ({self.distill.precomputed!r}) or "
                            "only one of them", self.out)
        self.distill.precomputed = self.out or self.distill.precomputed
        if not self.distill.precomputed:
            raise ConfigError("out is required: the folder to write the teacher features to (pass --out DIR)")
