"""Any timm image model as a clip encoder: per-frame pooled features averaged over time.

``timm:<model name>``; ``backbone.pretrained`` loads the model's pretrained weights (from the local Hugging
Face cache; set ``HF_HUB_OFFLINE=1`` on offline machines) and ``backbone.weights`` a local checkpoint file
instead (timm's ``pretrained_cfg_overlay=dict(file=...)``). Normalisation and native size come from the
model's pretrained config (``timm.data.resolve_data_config``).
"""

from __future__ import annotations

from typing import cast

import timm
import torch
from torch import Tensor

from scale_video.backbones.base import FrozenEncoder, frames_of, register_backbone, time_average
from scale_video.config import BackboneConfig
from sparse_core.config import ConfigError

__all__ = ["TimmImageEncoder"]


class TimmImageEncoder(FrozenEncoder):
    """Frozen timm image model (``num_classes=0``: its pooled pre-logits feature), applied per frame.

    Args:
        model: a timm model built with ``num_classes=0``.
        frame_chunk: frames per forward.
    """

    def __init__(self, model: torch.nn.Module, frame_chunk: int = 256) -> None:
        data_cfg = timm.data.resolve_data_config({}, model=model)
        num_features = cast(int, model.num_features)
        super().__init__(int(num_features), int(data_cfg["input_size"][-1]), data_cfg["mean"],
                         data_cfg["std"])
        self.model = model
        self.frame_chunk = frame_chunk
        self.freeze()

    def encode(self, x: Tensor) -> Tensor:
        """Shape ``(B, 3, T, H, W)`` normalised -> ``(B, D)``."""
        frames, t = frames_of(x)
        feats = torch.cat([self.model(frames[i:i + self.frame_chunk])
                           for i in range(0, len(frames), self.frame_chunk)])
        return time_average(feats, t)


@register_backbone("timm")
def build_timm(variant: str | None, cfg: BackboneConfig) -> TimmImageEncoder:
    """``timm:<model name>``, e.g. ``timm:resnet50.a1_in1k`` or ``timm:vit_small_patch16_224.dino``."""
    if not variant:
        raise ConfigError("backbone.name: 'timm' needs a model name, e.g. timm:resnet50")
    if not timm.is_model(variant):
        raise ConfigError(f"backbone.name: timm has no model {variant!r}")
    kwargs: dict = {"num_classes": 0}
    if cfg.weights is not None:
        kwargs["pretrained_cfg_overlay"] = {"file": cfg.weights}
    model = timm.create_model(variant, pretrained=cfg.pretrained or cfg.weights is not None, **kwargs)
    return TimmImageEncoder(model)
