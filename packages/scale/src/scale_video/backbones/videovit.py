"""sparse-core's :class:`~sparse_core.models.VideoViT` as a clip encoder, optionally with VideoMAE weights.

``backbone.weights`` may be a local Hugging Face VideoMAE folder (``config.json`` + ``model.safetensors`` or
``pytorch_model.bin``; ``VideoMAEModel``, ``...ForPreTraining`` or ``...ForVideoClassification``) or a weight
file; the keys are mapped by :func:`sparse_core.models.load_videomae_weights`. With a folder, the architecture is
read from its ``config.json``; otherwise from ``backbone.videovit``. Features are VideoMAE's mean-pooled,
``fc_norm``-ed tokens (``forward_head(pre_logits=True)``); inputs are normalised with ImageNet mean / std, as
VideoMAE's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import Tensor

from scale_video.backbones.base import IMAGENET_MEAN, IMAGENET_STD, FrozenEncoder, register_backbone
from scale_video.config import BackboneConfig, VideoViTSpec
from sparse_core.config import ConfigError
from sparse_core.export import read_state_dict
from sparse_core.models import VideoViT, load_videomae_weights

__all__ = ["VideoViTEncoder", "spec_from_hf_config"]


def spec_from_hf_config(config: dict[str, Any]) -> VideoViTSpec:
    """A :class:`VideoViTSpec` from a transformers ``VideoMAEConfig`` dict (``config.json``)."""
    return VideoViTSpec(
        img_size=int(config.get("image_size", 224)),
        num_frames=int(config.get("num_frames", 16)),
        tubelet_size=int(config.get("tubelet_size", 2)),
        patch_size=int(config.get("patch_size", 16)),
        embed_dim=int(config.get("hidden_size", 768)),
        depth=int(config.get("num_hidden_layers", 12)),
        num_heads=int(config.get("num_attention_heads", 12)),
        mlp_ratio=float(config.get("intermediate_size", 3072)) / float(config.get("hidden_size", 768)),
        norm_eps=float(config.get("layer_norm_eps", 1e-12)),
        use_mean_pooling=bool(config.get("use_mean_pooling", True)),
    )


class VideoViTEncoder(FrozenEncoder):
    """Frozen :class:`VideoViT`; ``D = embed_dim``; clips must have ``spec.num_frames`` frames.

    Args:
        model: the video ViT (``num_classes=0``).
    """

    def __init__(self, model: VideoViT, num_frames: int, img_size: int) -> None:
        super().__init__(model.embed_dim, img_size, IMAGENET_MEAN, IMAGENET_STD, num_frames=num_frames)
        self.model = model
        self.freeze()

    def encode(self, x: Tensor) -> Tensor:
        """Shape ``(B, 3, T, H, W)`` normalised -> ``(B, D)``."""
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True)


def build_videovit_model(spec: VideoViTSpec) -> VideoViT:
    """The :class:`VideoViT` of ``spec`` in VideoMAE's layout (sin-cos positions, mean pooling)."""
    return VideoViT(img_size=spec.img_size, num_frames=spec.num_frames, tubelet_size=spec.tubelet_size,
                    patch_size=spec.patch_size, embed_dim=spec.embed_dim, depth=spec.depth, num_heads=spec.num_heads,
                    mlp_ratio=spec.mlp_ratio, norm_eps=spec.norm_eps, use_mean_pooling=spec.use_mean_pooling,
                    pos_embed_type="sincos", num_classes=0)


@register_backbone("videovit")
def build_videovit(variant: str | None, cfg: BackboneConfig) -> VideoViTEncoder:
    """VideoViT from ``backbone.videovit`` or a Hugging Face VideoMAE folder's ``config.json``."""
    spec = cfg.videovit
    weights = Path(cfg.weights) if cfg.weights is not None else None
    if weights is not None and not weights.exists():
        raise ConfigError(f"backbone.weights: no such file or folder: {weights}")
    if weights is not None and (weights / "config.json").is_file():
        try:
            spec = spec_from_hf_config(json.loads((weights / "config.json").read_text()))
        except (ValueError, TypeError) as err:
            raise ConfigError(f"backbone.weights: cannot read {weights / 'config.json'}: {err}") from None
    model = build_videovit_model(spec)
    if weights is not None:
        state = {k: v for k, v in read_state_dict(weights).items() if not k.startswith("classifier.")}  # no head
        load_videomae_weights(model, state, strict=True)
    return VideoViTEncoder(model, spec.num_frames, spec.img_size)
