"""VQGAN autoencoder of single frames (thesis sec. 5.2.1; Esser et al.).

``encode`` returns the *pre-quantized* latent ``z = quant_conv(E(x))`` of shape (B, embed_dim, H/f, W/f); the
flow works on these. ``decode`` absorbs the quantization (as in latent diffusion): it quantizes, applies
``post_quant_conv`` and the decoder. ``f = 2 ** (len(ch_mult) - 1)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from river_vp.component_config import VQGANConfig
from river_vp.models.quantizer import VectorQuantizer
from river_vp.models.vqgan_blocks import MidBlock, ResolutionLevel, normalize

__all__ = ["Decoder", "Encoder", "VQGAN", "VQGANConfig"]


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
