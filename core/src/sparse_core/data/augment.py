"""SSL augmentations on torchvision.transforms.v2, parameterised by image size.

* :func:`two_view_transform`: the asymmetric BYOL / MoCo v3 pair (random resized crop, flip,
  colour jitter p=0.8, grayscale p=0.2, Gaussian blur p=1.0 / 0.1, solarize p=0.0 / 0.2).
* :class:`MultiCropTransform`: DINO multi-crop, 2 global + N local crops (blur 1.0 / 0.1 / 0.5,
  solarize on the second global crop only).
* :func:`eval_transform`: resize (size * 256/224), centre crop, normalise.

Every pipeline accepts a PIL image or a ``(C, H, W)`` uint8 / float tensor (1-channel inputs are
turned into RGB first) and returns normalised ``(3, size, size)`` float32 tensors. Randomness comes
from the global torch RNG only (the engine seeds it per sample for exact resume).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms import v2

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def _blur_kernel(size: int) -> int:
    """Odd Gaussian kernel about 10% of the image side (BYOL: 23 px at 224), at least 3."""
    k = max(3, round(0.1 * size))
    return k if k % 2 == 1 else k + 1


def _to_float_rgb() -> list[v2.Transform]:
    """Input normalisation: any image -> RGB float32 in [0, 1]."""
    return [v2.ToImage(), v2.RGB(), v2.ToDtype(torch.float32, scale=True)]


def ssl_view_transform(
    size: int,
    scale: tuple[float, float] = (0.08, 1.0),
    blur_p: float = 1.0,
    solarize_p: float = 0.0,
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.2, 0.1),
    jitter_p: float = 0.8,
    grayscale_p: float = 0.2,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> v2.Compose:
    """One BYOL-style view pipeline.

    Args:
        size: Output side in pixels.
        scale: RandomResizedCrop area range.
        blur_p: Probability of Gaussian blur (sigma in [0.1, 2.0], kernel ~10% of ``size``).
        solarize_p: Probability of solarization (threshold 0.5 on [0, 1] images).
        jitter: ColorJitter (brightness, contrast, saturation, hue).
        jitter_p: Probability of colour jitter.
        grayscale_p: Probability of grayscale (kept 3-channel).
        mean: Normalisation mean per channel.
        std: Normalisation standard deviation per channel.

    Returns:
        A v2 pipeline mapping an image to a ``(3, size, size)`` float32 tensor.
    """
    ops: list[v2.Transform] = [
        *_to_float_rgb(),
        v2.RandomResizedCrop(size, scale=scale, antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(*jitter)], p=jitter_p),
        v2.RandomGrayscale(p=grayscale_p),
    ]
    if blur_p > 0:
        ops.append(v2.RandomApply([v2.GaussianBlur(_blur_kernel(size), sigma=(0.1, 2.0))], p=blur_p))
    if solarize_p > 0:
        ops.append(v2.RandomSolarize(threshold=0.5, p=solarize_p))
    ops.append(v2.Normalize(mean=list(mean), std=list(std)))
    return v2.Compose(ops)


class MultiViewTransform:
    """Apply several view pipelines to one image and return the list of views.

    Args:
        transforms: One pipeline per view, in output order.
    """

    def __init__(self, transforms: Sequence[Callable[[Any], Tensor]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, image: Any) -> list[Tensor]:
        """Return ``[t(image) for t in transforms]``, each ``(3, s_i, s_i)``."""
        return [t(image) for t in self.transforms]

    def __repr__(self) -> str:
        """Readable summary of the per-view pipelines."""
        inner = ",\n".join(f"  {t!r}" for t in self.transforms)
        return f"{type(self).__name__}([\n{inner}\n])"


def two_view_transform(
    image_size: int = 224,
    min_scale: float = 0.08,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> MultiViewTransform:
    """BYOL / MoCo v3 asymmetric two-view augmentation.

    View 1: blur p=1.0, no solarize. View 2: blur p=0.1, solarize p=0.2. Both: RandomResizedCrop
    (scale ``(min_scale, 1)``), flip, colour jitter (0.4, 0.4, 0.2, 0.1) p=0.8, grayscale p=0.2.

    Returns:
        Callable mapping an image to ``[v1, v2]``, each ``(3, image_size, image_size)`` float32.
    """
    kw: dict[str, Any] = {"scale": (min_scale, 1.0), "mean": mean, "std": std}
    return MultiViewTransform(
        [
            ssl_view_transform(image_size, blur_p=1.0, solarize_p=0.0, **kw),
            ssl_view_transform(image_size, blur_p=0.1, solarize_p=0.2, **kw),
        ]
    )


class MultiCropTransform(MultiViewTransform):
    """DINO multi-crop: 2 global crops then ``num_local`` local crops.

    Global 1: blur p=1.0; global 2: blur p=0.1 + solarize p=0.2; locals: blur p=0.5. Colour jitter
    (0.4, 0.4, 0.2, 0.1) p=0.8 and grayscale p=0.2 everywhere, as in DINO.

    Args:
        global_size: Side of global crops (DINO: 224).
        local_size: Side of local crops (DINO: 96).
        num_local: Number of local crops (DINO: 6-10; 0 gives two views).
        global_scale: Crop area range of global crops (DINO: (0.32, 1.0); 0.4 for ViT-S).
        local_scale: Crop area range of local crops (DINO: (0.05, 0.32)).
        mean, std: Normalisation statistics.

    Output: list of ``2 + num_local`` tensors, ``(3, global_size, global_size)`` for the first two and
    ``(3, local_size, local_size)`` for the rest.
    """

    def __init__(
        self,
        global_size: int = 224,
        local_size: int = 96,
        num_local: int = 6,
        global_scale: tuple[float, float] = (0.32, 1.0),
        local_scale: tuple[float, float] = (0.05, 0.32),
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        norm: dict[str, Any] = {"mean": mean, "std": std}
        local = ssl_view_transform(local_size, scale=local_scale, blur_p=0.5, **norm)
        super().__init__(
            [
                ssl_view_transform(global_size, scale=global_scale, blur_p=1.0, **norm),
                ssl_view_transform(global_size, scale=global_scale, blur_p=0.1, solarize_p=0.2, **norm),
                *([local] * num_local),
            ]
        )
        self.num_global = 2
        self.num_local = num_local


def eval_transform(
    image_size: int = 224,
    resize_ratio: float = 256 / 224,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> v2.Compose:
    """Deterministic evaluation transform: resize the short side, centre crop, normalise.

    Args:
        image_size: Output side.
        resize_ratio: Short side is resized to ``round(image_size * resize_ratio)`` first
            (256/224 as in the standard ImageNet protocol; 1.0 for tiny images).
        mean: Normalisation mean per channel.
        std: Normalisation standard deviation per channel.

    Returns:
        Pipeline mapping an image to ``(3, image_size, image_size)`` float32.
    """
    return v2.Compose(
        [
            *_to_float_rgb(),
            v2.Resize(round(image_size * resize_ratio), antialias=True),
            v2.CenterCrop(image_size),
            v2.Normalize(mean=list(mean), std=list(std)),
        ]
    )


class TwoViewDataset(Dataset[Any]):
    """Wrap an image dataset so each item carries a list of augmented views.

    Items are ``{"views": list[Tensor], "label": int, "index": int}`` where ``views`` is
    ``transform(base[i]["image"])`` (two views for :func:`two_view_transform`, ``2 + N`` for
    :class:`MultiCropTransform`); any other keys of the base item (e.g. ``"mask"``) are dropped
    because they would no longer be aligned with the cropped views. ``None`` items of the base
    dataset (corrupt files) stay ``None`` so :func:`~sparse_core.data.collate.collate_skip_none`
    counts them. ``collate_skip_none`` turns ``"views"`` into a list of ``(B, 3, s_i, s_i)`` tensors.

    Args:
        base: Dataset returning dicts with ``"image"`` (and ``"label"``; -1 if absent). Build it
            without a transform, or with one that returns something the view transform accepts.
        transform: Callable mapping an image to a list of views.
    """

    def __init__(self, base: Dataset[Any], transform: Callable[[Any], list[Tensor]]) -> None:
        self.base = base
        self.transform = transform

    def __len__(self) -> int:
        """Length of the base dataset."""
        return len(self.base)  # type: ignore[arg-type]

    @property
    def num_skipped(self) -> int:
        """Skipped samples of the base dataset (in this process)."""
        return int(getattr(self.base, "num_skipped", 0))

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        """Return ``{"views", "label", "index"}`` or ``None`` for a skipped base sample."""
        item = self.base[index]
        if item is None:
            return None
        return {
            "views": list(self.transform(item["image"])),
            "label": int(item.get("label", -1)),
            "index": index,
        }
