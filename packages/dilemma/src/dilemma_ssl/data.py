"""Datasets of a run: augmented views for pre-training, deterministic images for evaluation."""

from __future__ import annotations

from torch.utils.data import Dataset

from dilemma_ssl.config import DATASETS as _CONFIG_DATASETS
from dilemma_ssl.config import DataConfig, MethodConfig, ModelConfig
from sparse_core.data import augment
from sparse_core.data.errors import DatasetError
from sparse_core.data.fashion_mnist import FashionMNIST
from sparse_core.data.image_folder import ImageFolderDataset
from sparse_core.data.shapes import SyntheticShapes

__all__ = ["DATASETS", "build_pretrain_dataset", "build_eval_datasets", "image_dataset"]

DATASETS = _CONFIG_DATASETS


def image_dataset(data: DataConfig, split: str, transform: object | None = None) -> Dataset:
    """The raw labelled images of ``split`` ('train' or 'test'), optionally transformed.

    Raises:
        DatasetError: unknown dataset name or missing folder.
    """
    if data.name == "imagefolder":
        root = data.root if split == "train" else data.eval_root
        if root is None:
            raise DatasetError(
                f"data.name=imagefolder needs data.{'root' if split == 'train' else 'eval_root'}"
            )
        return ImageFolderDataset(root, transform=transform)
    if data.name == "fashion_mnist":
        return FashionMNIST(
            root=data.root, split="train" if split == "train" else "test", transform=transform, channels=3
        )
    if data.name == "shapes":
        n = data.num_samples if split == "train" else data.num_eval_samples
        return SyntheticShapes(
            num_samples=n, image_size=data.image_size, seed=0 if split == "train" else 1, transform=transform
        )
    raise DatasetError(f"unknown data.name '{data.name}'; choose one of {DATASETS}")


def build_pretrain_dataset(data: DataConfig, model: ModelConfig, method: MethodConfig) -> Dataset:
    """Training set whose items carry ``"views"``: two MoCo v3 views, or DINO's multi-crop."""
    if method.variant == "dino":
        transform = augment.MultiCropTransform(
            global_size=model.img_size,
            local_size=method.dino.local_size,
            num_local=method.dino.local_crops,
            global_scale=(max(data.min_scale, 0.25), 1.0),
            local_scale=(0.05, max(data.min_scale, 0.25)),
        )
    elif data.augment == "light":
        kw = dict(scale=(data.min_scale, 1.0), blur_p=0.0, jitter=(0.4, 0.4, 0.2, 0.0))
        transform = augment.MultiViewTransform(
            [
                augment.ssl_view_transform(model.img_size, **kw),
                augment.ssl_view_transform(model.img_size, solarize_p=0.2, **kw),
            ]
        )
    elif data.augment == "mocov3":
        transform = augment.two_view_transform(model.img_size, min_scale=data.min_scale)
    else:
        raise DatasetError(f"unknown data.augment '{data.augment}'; choose 'mocov3' or 'light'")
    return augment.TwoViewDataset(image_dataset(data, "train"), transform)


def build_eval_datasets(data: DataConfig, model: ModelConfig) -> tuple[Dataset, Dataset]:
    """(train, test) sets for k-NN / linear evaluation, resized and centre-cropped to the model's input."""
    ratio = 256 / 224 if model.img_size >= 128 else 1.0
    transform = augment.eval_transform(model.img_size, resize_ratio=ratio)
    return image_dataset(data, "train", transform), image_dataset(data, "test", transform)
