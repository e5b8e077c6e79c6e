"""Run configurations of the river-vp command-line tools (defaults -> YAML -> CLI overrides).

Shipped YAMLs live in ``river_vp/configs/<stage>/`` (``ae``, ``encode``, ``flow``, ``predict``, ``eval``), one
per dataset (``bair64``, ``bair256``, ``kth``, ``clevrer``) plus ``tiny`` for the embedded procedural data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from river_vp.flow.conditioning import ConditionSpec
from river_vp.flow.sampler import SamplerConfig
from river_vp.models.uvit import VectorFieldConfig
from river_vp.models.vqgan import VQGANConfig
from river_vp.tasks.autoencoder import AELossConfig
from sparse_core.data.video import VideoDataConfig as CoreVideoDataConfig
from sparse_core.engine import OptimConfig, TrainConfig

__all__ = [
    "AutoencoderRunConfig",
    "EncodeConfig",
    "EvalConfig",
    "FlowRunConfig",
    "PredictConfig",
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
    """'moving_shapes' (sparse-core's bouncing shapes, generated, nothing stored), 'folder' (videos under
    ``root``) or directly a folder of videos (mp4/avi/webm/...) / frame folders."""
    image_size: int = 32
    """Frame side after centre crop and resize."""
    num_videos: int = 512
    """moving_shapes: number of videos (folders: all videos are used)."""
    num_frames: int = 16
    """moving_shapes: frames per video; folders: at most this many frames are read per video (0: all)."""
    frames_per_video: int = 16
    """Autoencoder training: single frames drawn per video per epoch."""


@dataclass
class AutoencoderRunConfig:
    """river-train-ae: train the VQGAN on single frames."""

    model: VQGANConfig = field(default_factory=VQGANConfig)
    loss: AELossConfig = field(default_factory=AELossConfig)
    data: VideoDataConfig = field(default_factory=VideoDataConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(out_dir="runs/river_ae"))
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(lr=4.5e-6, weight_decay=0.0, betas=(0.5, 0.9))
    )
    init_checkpoint: str | None = None
    """Start from a published taming / latent-diffusion / RIVER VQGAN checkpoint on a local path."""


@dataclass
class EncodeConfig:
    """river-encode: turn videos into a sharded latent cache."""

    autoencoder: str = "runs/river_ae"
    """Autoencoder run folder (holding vqgan.safetensors) or the file."""
    data: VideoDataConfig = field(default_factory=VideoDataConfig)
    out: str = "runs/river_latents"
    """Output folder of the cache (index.json + shard_*.npy)."""
    shard_frames: int = 4096
    """Frames per shard file."""
    batch_frames: int = 64
    """Frames encoded per forward pass."""
    device: str = "auto"
    """'auto' (CUDA if available), 'cpu' or 'cuda'."""


@dataclass
class FlowRunConfig:
    """river-train: flow matching of the vector field on a latent cache (Algorithm 1)."""

    latents: str = "runs/river_latents"
    """Latent cache folder written by river-encode."""
    model: VectorFieldConfig = field(default_factory=VectorFieldConfig)
    condition: ConditionSpec = field(default_factory=ConditionSpec)
    sigma_min: float = 1e-7
    """sigma_min of the probability path (eq. 5.6)."""
    latent_scale: float | None = None
    """Multiply latents by this before the flow (None: 1 / std of the cache, like latent diffusion's scale
    factor; 1.0: raw VQGAN latents)."""
    cond_noise_prob: float = 0.0
    """Replace the conditions by noise this often (0.1 trains video generation too, sec. 5.3.3)."""
    examples_per_video: int = 1
    """Training examples drawn per video and epoch."""
    train: TrainConfig = field(default_factory=lambda: TrainConfig(out_dir="runs/river_flow"))
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(lr=1e-4, weight_decay=5e-6, warmup_steps=5000)
    )


@dataclass
class PredictConfig:
    """river-predict: autoregressive prediction, written as MP4/GIF next to ground truth and a PNG grid."""

    model: str = "runs/river_flow"
    """Flow run folder (river.safetensors) or the file."""
    autoencoder: str = "runs/river_ae"
    """Autoencoder run folder or file."""
    data: VideoDataConfig = field(default_factory=lambda: VideoDataConfig(num_videos=4, seed=1))
    num_videos: int = 4
    """Videos to predict."""
    num_context: int = 2
    """Given frames k."""
    num_future: int = 14
    """Predicted frames n."""
    num_samples: int = 1
    """Samples per video."""
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    window: int | None = None
    """Limit on how far back context frames are drawn at inference (None: as trained)."""
    out_dir: str = "runs/river_predict"
    """Output folder."""
    fps: int = 4
    """Frames per second of the written videos."""
    seed: int = 0
    """Seed of the sampling noise and context draws."""
    device: str = "auto"
    """'auto', 'cpu' or 'cuda'."""


@dataclass
class EvalConfig:
    """river-eval: PSNR / SSIM (/ LPIPS, FVD with local weights) of predictions against ground truth."""

    model: str = "runs/river_flow"
    """Flow run folder or file."""
    autoencoder: str = "runs/river_ae"
    """Autoencoder run folder or file."""
    data: VideoDataConfig = field(default_factory=lambda: VideoDataConfig(num_videos=64, seed=1))
    protocol: str = "custom"
    """'custom' (num_context / num_future / num_samples below) or a preset: 'bair' (1 -> 15, 100 samples),
    'kth10_30', 'kth10_40' (10 -> 30 / 40), 'clevrer' (2 -> 14)."""
    num_context: int = 2
    """Given frames k (custom protocol)."""
    num_future: int = 14
    """Predicted frames n (custom protocol)."""
    num_samples: int = 1
    """Samples per test video (custom protocol); PSNR/SSIM report the mean and the best sample."""
    num_videos: int = 64
    """Test videos evaluated."""
    batch_size: int = 16
    """Videos predicted together."""
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    window: int | None = None
    """Limit on how far back context frames are drawn (None: as trained)."""
    i3d_path: str | None = None
    """TorchScript I3D on a local path: enables FVD (weights are not shipped nor downloadable here)."""
    lpips_path: str | None = None
    """TorchScript LPIPS network on a local path: enables LPIPS."""
    out_dir: str = "runs/river_eval"
    """Output folder: metrics.json, metrics.md, per_frame_psnr.png."""
    seed: int = 0
    """Seed of sampling."""
    device: str = "auto"
    """'auto', 'cpu' or 'cuda'."""


PROTOCOLS: dict[str, tuple[int, int, int]] = {
    "bair": (1, 15, 100),
    "kth10_30": (10, 30, 1),
    "kth10_40": (10, 40, 1),
    "clevrer": (2, 14, 1),
}
"""Standard protocols: (given frames, predicted frames, samples per test video)."""
