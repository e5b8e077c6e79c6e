"""Run configurations of the river-vp command-line tools (defaults -> YAML -> CLI overrides).

Shipped YAMLs live in ``river_vp/configs/<stage>/`` (``ae``, ``encode``, ``flow``, ``predict``, ``eval``), one
per dataset (``bair64``, ``bair256``, ``kth``, ``clevrer``) plus ``tiny`` for the embedded procedural data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from river_vp.component_config import (
    LATENT_NORMS,
    OBJECTIVES,
    PREDICTIONS,
    AELossConfig,
    ConditionSpec,
    SamplerConfig,
    VectorFieldConfig,
    VQGANConfig,
)
from sparse_core.config import ConfigError
from sparse_core.data.video import VideoDataConfig as CoreVideoDataConfig
from sparse_core.device import check_device
from sparse_core.engine import OptimConfig, TrainConfig
from sparse_core.engine.progress import check_progress
from sparse_core.preflight import OUTPUT_DIR
from sparse_core.validation import check_choice, check_divisible, check_float, check_int

__all__ = [
    "AutoencoderRunConfig",
    "EncodeConfig",
    "EvalConfig",
    "FlowRunConfig",
    "PredictConfig",
    "RolloutConfig",
    "VideoDataConfig",
    "config_dir",
]

CONFIG_ROOT = Path(__file__).parent / "configs"


def config_dir(stage: str) -> Path:
    """Folder of the shipped YAMLs of one CLI stage."""
    return CONFIG_ROOT / stage


@dataclass
class VideoDataConfig(CoreVideoDataConfig):
    """Pixel videos: sparse-core's video data config with RIVER's defaults and frames per video."""

    source: str = "moving_shapes"
    """'moving_shapes' (sparse-core's bouncing shapes, generated, nothing stored), 'moving_fashion'
    (sparse-core's Moving Fashion-MNIST: 1 to ``max_objects`` garments bouncing on a black canvas, the
    Moving-MNIST construction, generated from the Fashion-MNIST files at ``garments_root``), 'folder' (videos
    under ``root``) or directly a folder of videos (mp4/avi/webm/...) / frame folders."""
    split: str = "train"
    """moving_fashion: 'train' (garments of Fashion-MNIST's training images) or 'test' (its test images:
    garments never seen in training)."""
    image_size: int = 32
    """Frame side in pixels after centre crop and resize (>= 1; a multiple of the VQGAN's downsampling f)."""
    num_videos: int = 512
    """moving_shapes: number of videos, >= 1 (folders: all videos are used)."""
    num_frames: int = 16
    """moving_shapes: frames per video (>= 1); folders: at most this many frames are read per video
    (0: all)."""
    frames_per_video: int = 16
    """Autoencoder training: single frames drawn per video per epoch (>= 1)."""

    def __post_init__(self) -> None:
        """The shared video-data checks; generated videos need at least one frame.

        Raises:
            ConfigError: the first bad field.
        """
        super().__post_init__()
        check_int("data.frames_per_video", self.frames_per_video, 1)
        check_choice("data.split", self.split, ("train", "test"))
        if self.source in ("moving_shapes", "moving_fashion"):
            check_int("data.num_frames", self.num_frames, 1)


@dataclass
class AutoencoderRunConfig:
    """river-train-ae: train the VQGAN on single frames."""

    model: VQGANConfig = field(default_factory=VQGANConfig)
    """VQGAN architecture (thesis sec. 5.2.1)."""
    loss: AELossConfig = field(default_factory=AELossConfig)
    """Reconstruction, codebook and adversarial terms."""
    data: VideoDataConfig = field(default_factory=VideoDataConfig)
    """Videos whose frames are reconstructed."""
    train: TrainConfig = field(default_factory=lambda: TrainConfig(out_dir="runs/river_ae"))
    """Engine loop, batch and checkpoints."""
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(lr=4.5e-6, weight_decay=0.0, betas=(0.5, 0.9))
    )
    """AdamW as taming-transformers: lr 4.5e-6, betas (0.5, 0.9), no weight decay."""
    init_checkpoint: str | None = None
    """Start from a published taming / latent-diffusion / RIVER VQGAN checkpoint on a local path."""

    def __post_init__(self) -> None:
        """Frames must tile into latent positions: ``data.image_size`` is a multiple of f.

        Raises:
            ConfigError: naming both sides.
        """
        check_divisible("data.image_size", self.data.image_size, "the VQGAN downsampling f = 2 ** "
                        "(len(model.ch_mult) - 1)", self.model.downsample_factor)


@dataclass
class EncodeConfig:
    """river-encode: turn videos into a sharded latent cache."""

    autoencoder: str = "runs/river_ae"
    """Autoencoder run folder (holding vqgan.safetensors) or the file."""
    data: VideoDataConfig = field(default_factory=VideoDataConfig)
    """Videos to encode (all frames up to data.num_frames of each)."""
    out: str = field(default="runs/river_latents", metadata=OUTPUT_DIR)
    """Output folder of the cache (index.json + shard_*.npy)."""
    shard_frames: int = 4096
    """Latent frames per shard file (>= 1)."""
    batch_frames: int = 64
    """Frames encoded per forward pass (>= 1; bounds the encoder's memory)."""
    device: str = "auto"
    """'auto' (CUDA if available), 'cpu' or 'cuda'."""
    progress: bool | str = "auto"
    """Videos encoded so far with the ETA: 'auto' (a bar on a terminal, a line every ~5 % otherwise), true, false."""

    def __post_init__(self) -> None:
        """Refuse non-positive sizes and unknown devices (ConfigError on the first bad field)."""
        check_int("shard_frames", self.shard_frames, 1)
        check_int("batch_frames", self.batch_frames, 1)
        check_device("device", self.device)
        check_progress("progress", self.progress)


@dataclass
class FlowRunConfig:
    """river-train: flow matching of the vector field on a latent cache (Algorithm 1)."""

    latents: str = "runs/river_latents"
    """Latent cache folder written by river-encode."""
    model: VectorFieldConfig = field(default_factory=VectorFieldConfig)
    """U-ViT vector-field regressor (sec. 5.2.4)."""
    condition: ConditionSpec = field(default_factory=ConditionSpec)
    """Which frames condition each step (eq. 5.10)."""
    sigma_min: float = 1e-7
    """sigma_min of the probability path (eq. 5.6), in [0, 1)."""
    latent_scale: float | None = None
    """latent_norm 'global': multiply latents by this (> 0) before the flow (None: 1 / std of the cache, like
    latent diffusion's scale factor; 1.0: raw VQGAN latents)."""
    latent_norm: str = "global"
    """'global' (one scale factor, ``latent_scale``; latent diffusion's) or 'channel' (subtract each latent
    channel's mean and divide by its std over the cache; :mod:`river_vp.flow.latent_norm`)."""
    objective: str = "flow"
    """'flow' (flow matching, Algorithm 1: the method) or 'regression' (the same network trained as a plain
    next-latent regressor, a reference line: :mod:`river_vp.tasks.regress`)."""
    prediction: str = "velocity"
    """Flow objective only: what the network outputs, 'velocity' (``v_t``, eq. 5.8: the thesis form) or 'data'
    (the clean latent, made a field by eq. 5.6 and trained with eq. 5.8's loss on that field: "x-prediction,
    v-loss" of Li & He 2025, a named deviation; :mod:`river_vp.flow.matching`)."""
    cond_noise_prob: float = 0.0
    """Replace the conditions by noise with this probability in [0, 1] (0.1 trains video generation too,
    sec. 5.3.3)."""
    examples_per_video: int = 1
    """Training examples drawn per video and epoch (>= 1)."""
    ema_decay: float = 0.0
    """Exported weights are an exponential moving average of the trained ones with this decay in [0, 1)
    (0: off, the public RIVER configs; U-ViT and DiT sample from an EMA of 0.9999). The decay warms up as
    ``min(ema_decay, (1 + step) / (10 + step))`` so that short runs average their late steps only."""
    train: TrainConfig = field(default_factory=lambda: TrainConfig(out_dir="runs/river_flow"))
    """Engine loop, batch and checkpoints."""
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(lr=1e-4, weight_decay=5e-6, warmup_steps=5000)
    )
    """AdamW (public RIVER configs: lr 1e-4, 5000 warmup steps)."""

    def __post_init__(self) -> None:
        """Refuse out-of-range flow settings, naming the key (ConfigError on the first bad field)."""
        check_float("sigma_min", self.sigma_min, 0.0, strict=False, high=1.0, high_strict=True)
        check_float("latent_scale", self.latent_scale, 0.0, strict=True, optional=True)
        check_choice("latent_norm", self.latent_norm, LATENT_NORMS)
        check_choice("objective", self.objective, OBJECTIVES)
        check_choice("prediction", self.prediction, PREDICTIONS)
        if self.latent_norm == "channel" and self.latent_scale is not None:
            raise ConfigError("latent_scale is the 'global' normalisation's factor; unset it or use latent_norm "
                              "'global'")
        check_float("cond_noise_prob", self.cond_noise_prob, 0.0, strict=False, high=1.0)
        check_int("examples_per_video", self.examples_per_video, 1)
        check_float("ema_decay", self.ema_decay, 0.0, strict=False, high=1.0, high_strict=True)


PROTOCOLS: dict[str, tuple[int, int, int]] = {
    "bair": (1, 15, 100),
    "kth10_30": (10, 30, 1),
    "kth10_40": (10, 40, 1),
    "clevrer": (2, 14, 1),
}
"""Standard protocols: (given frames, predicted frames, samples per test video)."""


@dataclass
class RolloutConfig:
    """What river-predict and river-eval share: the trained models, the test videos and the rollout."""

    model: str = "runs/river_flow"
    """Flow run folder (river.safetensors) or the file."""
    autoencoder: str = "runs/river_ae"
    """Autoencoder run folder or file."""
    data: VideoDataConfig = field(default_factory=lambda: VideoDataConfig(num_videos=4, seed=1))
    """Test videos (seed 1: disjoint from the generated training videos)."""
    num_videos: int = 4
    """Videos to predict (>= 1)."""
    num_context: int = 2
    """Given frames k (>= 1)."""
    num_future: int = 14
    """Predicted frames n (>= 1), generated one at a time."""
    num_samples: int = 1
    """Samples per video (>= 1)."""
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    """ODE integration of each predicted frame."""
    window: int | None = None
    """Limit (>= 1) on how far back context frames are drawn at inference (None: as trained)."""
    out_dir: str = "runs/river_predict"
    """Output folder."""
    seed: int = 0
    """Seed (>= 0) of the sampling noise and context draws."""
    device: str = "auto"
    """'auto' (CUDA if available), 'cpu', 'cuda' or 'cuda:N'."""

    def __post_init__(self) -> None:
        """Refuse non-positive counts and unknown devices, naming the key (ConfigError on the first bad field)."""
        for name in ("num_videos", "num_context", "num_future", "num_samples"):
            check_int(name, getattr(self, name), 1)
        check_int("window", self.window, 1, optional=True)
        check_int("seed", self.seed, 0)
        check_device("device", self.device)


@dataclass
class PredictConfig(RolloutConfig):
    """river-predict: autoregressive prediction, written as MP4/GIF next to ground truth and a PNG grid."""

    fps: int = 4
    """Frames per second (>= 1) of the written videos."""

    def __post_init__(self) -> None:
        """The shared rollout checks plus the frame rate (ConfigError on the first bad field)."""
        super().__post_init__()
        check_int("fps", self.fps, 1)


@dataclass
class EvalConfig(RolloutConfig):
    """river-eval: PSNR / SSIM (/ LPIPS, FVD with local weights) of predictions against ground truth.

    With several samples per test video (``num_samples``), PSNR / SSIM report the mean and the best sample.
    """

    data: VideoDataConfig = field(default_factory=lambda: VideoDataConfig(num_videos=64, seed=1))
    """Test videos (seed 1: disjoint from the generated training videos)."""
    num_videos: int = 64
    """Test videos evaluated (>= 1)."""
    out_dir: str = "runs/river_eval"
    """Output folder: metrics.json, metrics.md, per_frame_psnr.png."""
    protocol: str = "custom"
    """'custom' (num_context / num_future / num_samples above) or a preset: 'bair' (1 -> 15, 100 samples),
    'kth10_30', 'kth10_40' (10 -> 30 / 40), 'clevrer' (2 -> 14)."""
    batch_size: int = 16
    """Videos predicted together (>= 1)."""
    i3d_path: str | None = None
    """TorchScript I3D on a local path: enables FVD (weights are not shipped nor downloadable here)."""
    lpips_path: str | None = None
    """TorchScript LPIPS network on a local path: enables LPIPS."""
    one_step: bool = False
    """Also score one-step predictions from the true past frames (teacher forcing) against copying the previous
    frame, in the flow's latent space and in pixels (one more prediction per future frame)."""

    def __post_init__(self) -> None:
        """The shared rollout checks plus the protocol and batch size (ConfigError on the first bad field)."""
        super().__post_init__()
        check_choice("protocol", self.protocol, ("custom", *PROTOCOLS))
        check_int("batch_size", self.batch_size, 1)
