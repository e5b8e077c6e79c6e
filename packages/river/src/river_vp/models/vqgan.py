"""VQGAN autoencoder of single frames (thesis sec. 5.2.1; Esser et al.).

``encode`` returns the *pre-quantized* latent ``z = quant_conv(E(x))`` of shape (B, embed_dim, H/f, W/f); the
flow works on these. ``decode`` absorbs the quantization (as in latent diffusion): it quantizes, applies
``post_quant_conv`` and the decoder. ``f = 2 ** (len(ch_mult) - 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from river_vp.models.quantizer import VectorQuantizer
from river_vp.models.vqgan_blocks import MidBlock, ResolutionLevel, normalize
from sparse_core.validation import bad_value, check_float, check_int

__all__ = ["Decoder", "Encoder", "VQGAN", "VQGANConfig"]


@dataclass
class VQGANConfig:
    """Architecture of the autoencoder (f = 2 ** (len(ch_mult) - 1))."""

    in_channels: int = 3
    """Image channels (>= 1; 3 for RGB)."""
    ch: int = 128
    """Base width of the first level (>= 1; taming-transformers: 128)."""
    ch_mult: list[int] = field(default_factory=lambda: [1, 2, 2, 4])
    """Width multiplier (>= 1) per resolution level; len - 1 downsamplings, so [1, 2, 2, 4] gives f = 8."""
    num_res_blocks: int = 2
    """Residual blocks per level (>= 1)."""
    attn_resolutions: list[int] = field(default_factory=lambda: [32])
    """Feature-map sides (in pixels of that level) at which a self-attention block follows each res block;
    [] puts attention only in the middle."""
    resolution: int = 256
    """Input image side (>= 1; used only to place attention blocks)."""
    z_channels: int = 4
    """Channels at the encoder output / decoder input (>= 1)."""
    embed_dim: int = 4
    """Latent (and codebook) width c seen by the flow, >= 1 (RIVER: 4)."""
    num_codes: int = 16384
    """Codebook size K, >= 1 (latent-diffusion f8: 16384)."""
    beta: float = 0.25
    """Commitment weight (>= 0) of the quantizer, pulling encoder outputs to their codes
    (VQ-VAE: 0.25)."""
    dropout: float = 0.0
    """Dropout probability in [0, 1) inside residual blocks."""

    def __post_init__(self) -> None:
        """Refuse out-of-range sizes, naming the ``model.*`` key (ConfigError on the first bad field)."""
        for name in ("in_channels", "ch", "num_res_blocks", "resolution", "z_channels", "embed_dim", "num_codes"):
            check_int(f"model.{name}", getattr(self, name), 1)
        if not isinstance(self.ch_mult, (list, tuple)) or not self.ch_mult:
            raise bad_value("model.ch_mult", "a non-empty list of width multipliers", self.ch_mult)
        for i, mult in enumerate(self.ch_mult):
            check_int(f"model.ch_mult[{i}]", mult, 1)
        for i, side in enumerate(self.attn_resolutions):
            check_int(f"model.attn_resolutions[{i}]", side, 1)
        check_float("model.beta", self.beta, 0.0, strict=False)
        check_float("model.dropout", self.dropout, 0.0, strict=False, high=1.0, high_strict=True)

    @property
    def downsample_factor(self) -> int:
        """Spatial downsampling f."""
        return 2 ** (len(self.ch_mult) - 1)


class Encoder(nn.Module):
    """Image (B, 3, H, W) -> features (B, z_channels, H/f, W/f)."""

    def __init__(self, cfg: VQGANConfig) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(cfg.in_channels, cfg.ch, 3, padding=1)
        res, in_mult = cfg.resolution, [1, *cfg.ch_mult]
        self.down = nn.ModuleList()
        for level, mult in enumerate(cfg.ch_mult):
            c_in, c_out = cfg.ch * in_mult[level], cfg.ch * mult
            last = level == len(cfg.ch_mult) - 1
            self.down.append(ResolutionLevel(c_in, c_out, cfg.num_res_blocks, res in cfg.attn_resolutions,
                                             cfg.dropout, resample=None if last else "down"))
            c_in = c_out
            if not last:
                res //= 2
        self.mid = MidBlock(c_in, cfg.dropout)
        self.norm_out = normalize(c_in)
        self.conv_out = nn.Conv2d(c_in, cfg.z_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, z_channels, H/f, W/f)."""
        h = self.conv_in(x)
        for stage in self.down:
            h = stage(h)
        return self.conv_out(F.silu(self.norm_out(self.mid(h))))


class Decoder(nn.Module):
    """Features (B, z_channels, h, w) -> image (B, 3, h f, w f)."""

    def __init__(self, cfg: VQGANConfig) -> None:
        super().__init__()
        c_in = cfg.ch * cfg.ch_mult[-1]
        res = cfg.resolution // cfg.downsample_factor
        self.conv_in = nn.Conv2d(cfg.z_channels, c_in, 3, padding=1)
        self.mid = MidBlock(c_in, cfg.dropout)
        stages: list[nn.Module] = []
        for level in reversed(range(len(cfg.ch_mult))):
            c_out = cfg.ch * cfg.ch_mult[level]
            stages.insert(0, ResolutionLevel(c_in, c_out, cfg.num_res_blocks + 1, res in cfg.attn_resolutions,
                                             cfg.dropout, resample="up" if level != 0 else None))
            c_in = c_out
            if level != 0:
                res *= 2
        self.up = nn.ModuleList(stages)  # up[level] holds the blocks of that resolution level
        self.norm_out = normalize(c_in)
        self.conv_out = nn.Conv2d(c_in, cfg.in_channels, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        """(B, z_channels, h, w) -> (B, 3, h f, w f)."""
        h = self.mid(self.conv_in(z))
        for stage in reversed(self.up):
            h = stage(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class VQGAN(nn.Module):
    """Encoder, vector quantizer and decoder; images are in [-1, 1]."""

    def __init__(self, cfg: VQGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quantize = VectorQuantizer(cfg.num_codes, cfg.embed_dim, cfg.beta)
        self.quant_conv = nn.Conv2d(cfg.z_channels, cfg.embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(cfg.embed_dim, cfg.z_channels, 1)

    def encode(self, x: Tensor) -> Tensor:
        """Pre-quantized latents: (B, 3, H, W) -> (B, embed_dim, H/f, W/f)."""
        return self.quant_conv(self.encoder(x))

    def decode(self, z: Tensor, quantize: bool = True) -> Tensor:
        """Decode (pre-quantized) latents: (B, embed_dim, h, w) -> (B, 3, h f, w f)."""
        if quantize:
            z = self.quantize(z)[0]
        return self.decoder(self.post_quant_conv(z))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Reconstruct ``x``: returns (reconstruction (B, 3, H, W), quantizer loss scalar)."""
        zq, qloss, _ = self.quantize(self.encode(x))
        return self.decoder(self.post_quant_conv(zq)), qloss

    def last_layer(self) -> Tensor:
        """Weight of the decoder's last conv (the adaptive GAN weight is computed on its gradients)."""
        return self.decoder.conv_out.weight

    @torch.no_grad()
    def encode_video(self, video: Tensor, chunk: int = 64) -> Tensor:
        """Encode every frame: (T, 3, H, W) -> (T, embed_dim, h, w), ``chunk`` frames at a time."""
        return torch.cat([self.encode(video[i : i + chunk]) for i in range(0, video.shape[0], chunk)])

    @torch.no_grad()
    def decode_video(self, latents: Tensor, chunk: int = 64) -> Tensor:
        """Decode latent frames: (..., embed_dim, h, w) -> (..., 3, H, W), clamped to [-1, 1]."""
        lead = latents.shape[:-3]
        flat = latents.reshape(-1, *latents.shape[-3:])
        out = torch.cat([self.decode(flat[i : i + chunk]) for i in range(0, flat.shape[0], chunk)])
        return out.clamp(-1, 1).reshape(*lead, *out.shape[1:])
