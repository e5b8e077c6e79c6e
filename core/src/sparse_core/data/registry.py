"""Name -> dataset builder registry, so configs can say ``dataset: shapes``.

Packages register their own sources under a dotted prefix (``vidrop.codes``, ``river.frames``) and
look them up with :func:`get_dataset_builder`, so every dataset name of the monorepo resolves in one
place and an unknown name is answered with the registered ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from torch.utils.data import Dataset

from sparse_core.data.errors import DatasetError
from sparse_core.data.fashion_mnist import FashionMNIST
from sparse_core.data.image_folder import ImageFolderDataset
from sparse_core.data.shapes import SyntheticShapes
from sparse_core.data.video import BouncingShapes, MotionShapes, VideoClipDataset

Builder = Callable[..., Dataset[Any]]
_REGISTRY: dict[str, Builder] = {}


def register_dataset(name: str) -> Callable[[Builder], Builder]:
    """Decorator registering ``fn(root, split, transform, **kwargs) -> Dataset`` under ``name``."""

    def deco(fn: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"dataset {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn

    return deco


def list_datasets(prefix: str = "") -> list[str]:
    """Registered dataset names starting with ``prefix`` (all of them by default), sorted."""
    return sorted(n for n in _REGISTRY if n.startswith(prefix))


def get_dataset_builder(name: str, prefix: str = "", what: str = "dataset") -> Builder:
    """The builder registered as ``prefix + name``.

    Args:
        name: Dataset name as a config gives it.
        prefix: Namespace of the caller (e.g. ``"vidrop."``); the error lists only the names under it.
        what: What the name is called in the caller's config, for the error (e.g. ``"data.source"``).

    Returns:
        The registered builder.

    Raises:
        DatasetError: No builder is registered under ``prefix + name``.
    """
    full = prefix + name
    if full not in _REGISTRY:
        names = [n[len(prefix) :] for n in list_datasets(prefix)]
        raise DatasetError(f"unknown {what} {name!r}; registered: {', '.join(names)}")
    return _REGISTRY[full]


def build_dataset(
    name: str,
    root: str | os.PathLike[str] | None = None,
    split: str = "train",
    transform: Callable[..., Any] | None = None,
    **kwargs: Any,
) -> Dataset[Any]:
    """Build a registered dataset.

    Built-in names: ``"image_folder"`` (``root/<split>/<class>/<img>`` if that folder exists, else
    ``root/<class>/<img>``), ``"fashion_mnist"``, ``"shapes"`` (``num_samples``, ``image_size``,
    ``seed`` in ``kwargs``; the test split uses seed ``seed + 1``), ``"video"``
    (``root`` = folder, list file; ``clip_len``, ``stride``, ``sampler`` in ``kwargs``;
    ``root/<split>`` used if it exists), ``"motion_shapes"`` and ``"moving_shapes"`` (the procedural
    :class:`MotionShapes` and bouncing :class:`BouncingShapes` videos; their arguments in ``kwargs``;
    the test split uses seed ``seed + 1``).

    Raises:
        DatasetError: Unknown name (message lists the registered ones) or the builder's own error.
    """
    return get_dataset_builder(name)(root=root, split=split, transform=transform, **kwargs)


def _split_dir(root: str | os.PathLike[str] | None, split: str, what: str) -> str | os.PathLike[str]:
    if root is None:
        raise DatasetError(f"dataset {what!r} needs root=<path>")
    sub = os.path.join(root, split)
    return sub if os.path.isdir(sub) else root


@register_dataset("image_folder")
def _image_folder(root: Any, split: str, transform: Any, **kwargs: Any) -> Dataset[Any]:
    return ImageFolderDataset(_split_dir(root, split, "image_folder"), transform=transform, **kwargs)


@register_dataset("fashion_mnist")
def _fashion_mnist(root: Any, split: str, transform: Any, **kwargs: Any) -> Dataset[Any]:
    return FashionMNIST(root=root, split=split, transform=transform, **kwargs)  # type: ignore[arg-type]


@register_dataset("shapes")
def _shapes(root: Any, split: str, transform: Any, seed: int = 0, **kwargs: Any) -> Dataset[Any]:
    return SyntheticShapes(seed=seed if split == "train" else seed + 1, transform=transform, **kwargs)


@register_dataset("video")
def _video(root: Any, split: str, transform: Any, **kwargs: Any) -> Dataset[Any]:
    return VideoClipDataset(_split_dir(root, split, "video"), transform=transform, **kwargs)


@register_dataset("motion_shapes")
def _motion_shapes(root: Any, split: str, transform: Any, seed: int = 0, **kwargs: Any) -> Dataset[Any]:
    return MotionShapes(seed=seed if split == "train" else seed + 1, **kwargs)


@register_dataset("moving_shapes")
def _bouncing_shapes(root: Any, split: str, transform: Any, seed: int = 0, **kwargs: Any) -> Dataset[Any]:
    return BouncingShapes(seed=seed if split == "train" else seed + 1, **kwargs)
