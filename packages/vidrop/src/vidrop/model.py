"""The ViDROP encoder: sparse-core's VideoViT plus a CLS token, one encoder for dropped and masked tokens.

The student runs the large clips with only the kept tokens (``keep_idx``) of which some are replaced by the
MSK token (``mask``), and the small clips dense; the teacher (an EMA copy) runs the large clips dense. Both
prepend a learned CLS token (thesis sec. 6.2.1: "both student and teacher include a CLS token"), which carries
no position embedding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import trunc_normal_
from timm.models import checkpoint_seq
from torch import Tensor, nn

from sparse_core.models import VideoViT
from sparse_core.models.token_ops import select_tokens
from vidrop.config import EncoderConfig

__all__ = ["ViDROPEncoder", "build_encoder"]


class ViDROPEncoder(nn.Module):
    """VideoViT with a CLS token and grid-resampled positions for clips of other sizes (the small clips).

    Args:
        vit: the video ViT, built with ``use_mean_pooling=False`` (final ``norm``) and ``mask_token=True`` when
            masks will be passed.

    Shape:
        forward: x ``(B, 3, T, H, W)``, keep_idx ``(B, K)``, mask ``(B, N)`` -> cls ``(B, D)``,
        patch tokens ``(B, K, D)`` (``K = N`` without ``keep_idx``).
    """

    def __init__(self, vit: VideoViT) -> None:
        super().__init__()
        self.vit = vit
        self.embed_dim = vit.embed_dim
        self.cls_token = nn.Parameter(torch.zeros(1, 1, vit.embed_dim))
        trunc_normal_(self.cls_token, std=0.02)

    @property
    def token_grid(self) -> tuple[int, int, int]:
        """Token grid ``(T', Hp, Wp)`` of a large clip."""
        return self.vit.token_grid

    def grid_of(self, frames: int, size: int) -> tuple[int, int, int]:
        """Token grid of a ``frames x size x size`` clip."""
        kt, kh, _ = self.vit.patch_embed.proj.kernel_size
        return frames // kt, size // kh, size // kh

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        """Parameters excluded from weight decay."""
        return {"cls_token", *(f"vit.{n}" for n in self.vit.no_weight_decay())}

    def pos_embed_for(self, grid: tuple[int, int, int]) -> Tensor:
        """Position table for ``grid``: the model's own, or it trilinearly resampled as a ``(T', Hp, Wp)`` field.

        Unlike VideoViT's recomputed 1-D sinusoid for other token counts, resampling keeps a small clip's
        token at the same relative space-time position as the large clip's.

        Shape:
            returns ``(1, T'*Hp*Wp, D)``.
        """
        base = self.vit.pos_embed
        own = self.vit.token_grid
        if tuple(grid) == tuple(own):
            return base
        pos = base.reshape(1, *own, self.embed_dim).permute(0, 4, 1, 2, 3).float()  # (1, D, T', Hp, Wp)
        pos = F.interpolate(pos, size=grid, mode="trilinear", align_corners=False)
        return pos.permute(0, 2, 3, 4, 1).flatten(1, 3).to(base.dtype)

    def forward(self, x: Tensor, keep_idx: Tensor | None = None, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Encode clips; see the class docstring for shapes. ``mask`` is over the ``N`` dense positions."""
        tokens, grid = self.vit.patch_embed(x)  # (B, N, D)
        tokens = select_tokens(tokens, self.pos_embed_for(grid), keep_idx, None, mask, self.vit.mask_token)
        h = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1).to(tokens.dtype), tokens], dim=1)
        if self.vit.grad_checkpointing and self.training:
            h = checkpoint_seq(self.vit.blocks, h)
        else:
            h = self.vit.blocks(h)
        h = self.vit.norm(h)  # (B, 1 + K, D)
        return h[:, 0], h[:, 1:]

    @torch.no_grad()
    def features(self, x: Tensor, kind: str = "cls+avg") -> Tensor:
        """Frozen clip features for probing.

        Args:
            x: clips ``(B, 3, T, H, W)``.
            kind: ``"cls"``, ``"avg"`` (mean patch token) or ``"cls+avg"`` (concatenation, DINOv2 linear eval).

        Shape:
            returns ``(B, D)`` or ``(B, 2D)``.
        """
        cls, patch = self(x)
        if kind == "cls":
            return cls
        if kind == "avg":
            return patch.mean(1)
        if kind == "cls+avg":
            return torch.cat([cls, patch.mean(1)], dim=-1)
        raise ValueError(f"feature kind must be 'cls', 'avg' or 'cls+avg', got {kind!r}")


def build_encoder(cfg: EncoderConfig, drop_path_rate: float | None = None, mask_token: bool = True) -> ViDROPEncoder:
    """Build the encoder of ``cfg``.

    Args:
        cfg: architecture.
        drop_path_rate: overrides ``cfg.drop_path_rate`` (e.g. 0 for evaluation).
        mask_token: create the MSK token (only the 'ibot' loss variant uses it; an unused parameter would
            trip DDP).
    """
    vit = VideoViT(img_size=cfg.img_size, num_frames=cfg.num_frames, tubelet_size=cfg.tubelet_size,
                   patch_size=cfg.patch_size, embed_dim=cfg.embed_dim, depth=cfg.depth, num_heads=cfg.num_heads,
                   drop_path_rate=cfg.drop_path_rate if drop_path_rate is None else drop_path_rate,
                   pos_embed_type=cfg.pos_embed_type, mask_token=mask_token, use_mean_pooling=False)  # type: ignore[arg-type]
    vit.set_grad_checkpointing(cfg.grad_checkpointing)
    return ViDROPEncoder(vit)
