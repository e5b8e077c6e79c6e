"""The ViDROP encoder: sparse-core's VideoViT with its CLS token, one encoder for dropped and masked tokens.

The student runs the large clips with only the kept tokens (``keep_idx``) of which some are replaced by the
MSK token (``mask``), and the small clips dense; the teacher (an EMA copy) runs the large clips dense. Both
prepend a learned CLS token (thesis sec. 6.2.1: "both student and teacher include a CLS token"), which carries
no position embedding. Only the kept tubelets are embedded, so the student's cost falls with the drop rate
(chapter 6's speed claim).

State dicts keep the layout of a CLS token held beside the VideoViT: ``cls_token`` and ``vit.*``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sparse_core.models import VideoViT
from vidrop.config import EncoderConfig

__all__ = ["ViDROPEncoder", "build_encoder"]

_OWN_CLS, _VIT_CLS = "cls_token", "vit.cls_token"


def _save_cls_key(module: nn.Module, state_dict: dict[str, Any], prefix: str, local_metadata: Any) -> None:
    """State-dict post hook: ``vit.cls_token`` is saved as ``cls_token``, in the same place."""
    old, new = prefix + _VIT_CLS, prefix + _OWN_CLS
    if old in state_dict:
        items = list(state_dict.items())
        state_dict.clear()
        state_dict.update((new if k == old else k, v) for k, v in items)


def _load_cls_key(module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """Load-state-dict pre hook: a saved ``cls_token`` goes to ``vit.cls_token``."""
    if prefix + _OWN_CLS in state_dict:
        state_dict[prefix + _VIT_CLS] = state_dict.pop(prefix + _OWN_CLS)


class ViDROPEncoder(nn.Module):
    """VideoViT with a CLS token and grid-resampled positions for clips of other sizes (the small clips).

    Args:
        vit: the video ViT, built with ``class_token=True``, ``pos_resample="trilinear"``,
            ``use_mean_pooling=False`` (final ``norm``) and ``mask_token=True`` when masks will be passed.

    Shape:
        forward: x ``(B, 3, T, H, W)``, keep_idx ``(B, K)``, mask ``(B, N)`` -> cls ``(B, D)``,
        patch tokens ``(B, K, D)`` (``K = N`` without ``keep_idx``).
    """

    def __init__(self, vit: VideoViT) -> None:
        super().__init__()
        if vit.cls_token is None or vit.pos_resample != "trilinear":
            raise ValueError("ViDROPEncoder needs a VideoViT built with class_token=True, pos_resample='trilinear'")
        self.vit = vit
        self.embed_dim = vit.embed_dim
        self.register_state_dict_post_hook(_save_cls_key)
        self.register_load_state_dict_pre_hook(_load_cls_key)

    @property
    def cls_token(self) -> nn.Parameter:
        """The CLS token ``(1, 1, D)`` (the VideoViT's; saved as ``cls_token``)."""
        assert self.vit.cls_token is not None
        return self.vit.cls_token

    @property
    def token_grid(self) -> tuple[int, int, int]:
        """Token grid ``(T', Hp, Wp)`` of a large clip."""
        return self.vit.token_grid

    def grid_of(self, frames: int, size: int) -> tuple[int, int, int]:
        """Token grid of a ``frames x size x size`` clip."""
        return self.vit.grid_of(frames, size, size)

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        """Parameters excluded from weight decay (names as in ``named_parameters()``)."""
        return {f"vit.{n}" for n in self.vit.no_weight_decay()}

    def pos_embed_for(self, grid: tuple[int, int, int]) -> Tensor:
        """Position table for ``grid``: the model's own, or it trilinearly resampled as a ``(T', Hp, Wp)`` field.

        Unlike VideoMAE's recomputed 1-D sinusoid for other token counts, resampling keeps a small clip's
        token at the same relative space-time position as the large clip's.

        Shape:
            returns ``(1, T'*Hp*Wp, D)``.
        """
        return self.vit.pos_embed_for(grid)

    def forward(self, x: Tensor, keep_idx: Tensor | None = None, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Encode clips; see the class docstring for shapes. ``mask`` is over the ``N`` dense positions."""
        h = self.vit.forward_features(x, keep_idx=keep_idx, mask=mask)  # (B, 1 + K, D), only kept tubelets embedded
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
                   pos_embed_type=cfg.pos_embed_type,  # type: ignore[arg-type]
                   mask_token=mask_token, use_mean_pooling=False, class_token=True, pos_resample="trilinear")
    vit.set_grad_checkpointing(cfg.grad_checkpointing)
    return ViDROPEncoder(vit)
