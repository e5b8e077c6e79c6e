"""open_clip image towers as clip encoders (thesis Table 4.12): per-frame image embeddings averaged over time.

``open_clip:<model name>`` with ``backbone.weights`` a local checkpoint file or a pretrained tag (loaded by
``open_clip.create_model(name, pretrained=...)``). The feature is the tower's projected embedding (the CLIP
image embedding); normalisation and native size come from the tower (``image_mean`` / ``image_std`` /
``image_size``, OpenAI's constants by default). Needs the ``open_clip`` extra (``open_clip_torch``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from scale_video.backbones.base import FrozenEncoder, frames_of, register_backbone, time_average
from scale_video.config import BackboneConfig
from sparse_core.config import ConfigError

__all__ = ["OpenClipImageEncoder"]

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


class OpenClipImageEncoder(FrozenEncoder):
    """Frozen open_clip visual tower.

    Args:
        visual: ``model.visual`` of an open_clip model.
        dim: its output width (the CLIP embedding dim).
        frame_chunk: frames per forward.
    """

    def __init__(self, visual: nn.Module, dim: int, frame_chunk: int = 256) -> None:
        size = getattr(visual, "image_size", 224)
        size = size[-1] if isinstance(size, (tuple, list)) else size
        mean = getattr(visual, "image_mean", None) or OPENAI_MEAN
        std = getattr(visual, "image_std", None) or OPENAI_STD
        super().__init__(dim, int(size), mean, std)
        self.visual = visual
        self.frame_chunk = frame_chunk
        self.freeze()

    def encode(self, x: Tensor) -> Tensor:
        """Shape ``(B, 3, T, H, W)`` normalised -> ``(B, D)``."""
        frames, t = frames_of(x)
        feats = torch.cat([self.visual(frames[i:i + self.frame_chunk])
                           for i in range(0, len(frames), self.frame_chunk)])
        return time_average(feats, t)


@register_backbone("open_clip")
def build_open_clip(variant: str | None, cfg: BackboneConfig) -> OpenClipImageEncoder:
    """``open_clip:<model name>`` (e.g. ``open_clip:ViT-B-32`` with ``backbone.weights=/path/to/ckpt.pt``)."""
    try:
        import open_clip
    except ImportError:
        raise ConfigError("backbone.name: open_clip backbones need `pip install scale-video[open_clip]`") from None
    if not variant:
        raise ConfigError("backbone.name: 'open_clip' needs a model name, e.g. open_clip:ViT-B-32")
    if variant not in open_clip.list_models():
        raise ConfigError(f"backbone.name: open_clip has no model config {variant!r}")
    model = open_clip.create_model(variant, pretrained=cfg.weights)
    visual = model.visual
    dim = getattr(visual, "output_dim", None) or int(model.text_projection.shape[-1])
    return OpenClipImageEncoder(visual, int(dim))
