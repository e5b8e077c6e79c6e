"""Models: a timm ViT with token dropping (registered with timm on import) and a video ViT.

Importing this package registers ``sparse_vit_{tiny,small,base,large}_patch{14,16}_224`` with timm, so
``timm.create_model("sparse_vit_small_patch16_224", num_classes=0)`` works afterwards.
"""

from .video_vit import VideoViT
from .videomae import load_videomae_weights
from .vit import SparseVisionTransformer

__all__ = ["SparseVisionTransformer", "VideoViT", "load_videomae_weights"]
