"""Evaluations on user folders: an image-folder classification set and a folder of image-text pairs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from sfclip.captions import caption_list
from sfclip.data import PairFolder
from sfclip.evaluation.model import CLIPEncoder
from sfclip.evaluation.probe import bn_linear_probe
from sfclip.evaluation.retrieval import retrieval_scores
from sfclip.evaluation.zeroshot import class_embeddings, zero_shot_scores
from sparse_core.data.collate import collate_skip_none
from sparse_core.data.image_folder import ImageFolderDataset
from sparse_core.eval import extract_features

__all__ = ["class_folder", "folder_linear_probe", "folder_retrieval", "folder_zero_shot"]


def class_folder(root: str | Path, size: int) -> ImageFolderDataset:
    """``root/<class>/<image>`` with images resized to ``size`` x ``size`` (bicubic), floats in [0, 1]."""

    def resize(image: Tensor) -> Tensor:
        return TF.to_dtype(TF.resize(image, [size, size], antialias=True), torch.float32, scale=True)

    return ImageFolderDataset(root, transform=resize)


def _names(ds: ImageFolderDataset) -> list[str]:
    """Class names from folder names (``_`` read as a space)."""
    return [c.replace("_", " ") for c in ds.classes]


def folder_zero_shot(model: CLIPEncoder, root: str | Path, templates: Sequence[str],
                     batch_size: int = 256) -> dict[str, float]:
    """Zero-shot top-1 / top-5 (%) on an image folder, classes = folder names with a prompt ensemble."""
    ds = class_folder(root, model.vision.vit.patch_embed.img_size[0])
    img, labels = extract_features(model.vision, ds, batch_size=batch_size)
    cls = class_embeddings(lambda caps: model.encode_texts(caps, batch_size), _names(ds), templates)
    return zero_shot_scores(img, labels, cls)


def folder_linear_probe(model: CLIPEncoder, train_root: str | Path, test_root: str | Path, epochs: int = 100,
                        batch_size: int = 256) -> dict[str, float]:
    """Linear probe (BN without affine) on the pooled image tokens of two image folders with the same classes."""
    size = model.vision.vit.patch_embed.img_size[0]
    train_ds, test_ds = class_folder(train_root, size), class_folder(test_root, size)

    def pooled(x: Tensor) -> Tensor:
        return model.vision.tokens(x).mean(dim=1)

    trf, try_ = extract_features(pooled, train_ds, batch_size=batch_size, device=model.device)
    tef, tey = extract_features(pooled, test_ds, batch_size=batch_size, device=model.device)
    return bn_linear_probe(trf, try_, tef, tey, epochs=epochs, num_classes=len(train_ds.classes))


def _pairs(ds: PairFolder) -> tuple[Tensor, list[str]]:
    """All readable pairs of a :class:`~sfclip.data.PairFolder` (corrupt or empty ones skipped)."""
    batch = collate_skip_none([ds[i] for i in range(len(ds))])
    if "image" not in batch:
        raise ValueError("no readable pair")
    return batch["image"], list(batch["caption"])


def folder_retrieval(model: CLIPEncoder, root: str | Path, batch_size: int = 256) -> dict[str, float]:
    """R@1/5/10 both ways on a folder of ``name.<ext>`` + ``name.txt`` pairs.

    A ``.txt`` with several lines gives several captions of its image (COCO's five): each is one gallery
    item (image -> text) and one query (text -> image), relevant to its own image only.
    """
    images, captions = _pairs(PairFolder(root, model.vision.vit.patch_embed.img_size[0]))
    flat = [(i, c) for i, cap in enumerate(captions) for c in caption_list(cap)]
    owner = torch.tensor([i for i, _ in flat])
    relevant = torch.arange(len(captions))[:, None] == owner[None, :]
    return retrieval_scores(model.encode_images(images, batch_size),
                            model.encode_texts([c for _, c in flat], batch_size), relevant)
