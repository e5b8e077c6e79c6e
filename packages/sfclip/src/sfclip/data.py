"""Image-text pair sources, registered in sparse-core's dataset registry as ``sfclip.<data.source>``.

``folder`` (``name.<ext>`` + ``name.txt``), ``shapes`` (procedural coloured shapes), ``webdataset`` (tar
shards, :mod:`sfclip.tar_shards`), ``openclipart`` (:mod:`sfclip.openclipart`) and ``emoji``
(:mod:`sfclip.emoji_set`, English names); :func:`build_dataset` looks ``data.source`` up there and, with
``data.rewrites``, wraps the source in LaCLIP's rewrites (:mod:`sfclip.rewrites`).

Samples are ``{"image": (3, S, S) float in [0, 1], "caption": str | list[str], "index": int}`` (``index``:
the dataset index, the key of precomputed teacher features). A list holds several captions of one image (a
``.txt`` with several lines, one caption per line; rewrites): the task draws one per step
(:mod:`sfclip.captions`), never glues them. A corrupt image or an empty caption gives ``None``, which the
engine's collate drops and counts (``skipped`` in the metrics).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from sfclip.captions import Caption, read_caption_file
from sfclip.config import SFCLIPConfig
from sparse_core.data import get_dataset_builder, list_datasets, register_dataset
from sparse_core.data.errors import DatasetError
from sparse_core.data.image_folder import read_resized
from sparse_core.data.shapes import SHAPES, shape_mask

__all__ = ["PairFolder", "ShapePairs", "InMemoryPairs", "COLOURS", "IMAGE_EXTS", "PREFIX", "registered_sources",
           "build_dataset"]

PREFIX = "sfclip."
"""Namespace of the sources in the dataset registry."""

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.9, 0.1, 0.1), "green": (0.1, 0.8, 0.2), "blue": (0.15, 0.25, 0.95), "yellow": (0.95, 0.9, 0.1),
    "purple": (0.6, 0.15, 0.8), "orange": (1.0, 0.55, 0.05), "white": (0.97, 0.97, 0.97), "black": (0.05, 0.05, 0.05),
}
"""Colour names of :class:`ShapePairs` and their RGB values."""


def _load_image(path: Path, size: int) -> torch.Tensor | None:
    """RGB image resized to ``size`` x ``size`` in [0, 1], or None when it cannot be decoded."""
    try:
        return read_resized(path, size)  # every PIL mode at full range, no palette-transparency warning
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


class PairFolder(Dataset):
    """Pairs ``<stem><image ext>`` + ``<stem>.txt`` found recursively under ``root``.

    Each non-empty line of the ``.txt`` is one caption of the image: a one-line file gives a string, a
    several-line file a list (one drawn per step, never glued).

    Args:
        root: the folder.
        size: image side after resizing.

    Raises:
        DatasetError: ``root`` is missing or holds no pair.
    """

    def __init__(self, root: str | Path, size: int) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"data.root {str(root)!r} is not a folder")
        self.items = sorted((p, p.with_suffix(".txt")) for p in self.root.rglob("*")
                            if p.suffix.lower() in IMAGE_EXTS and p.with_suffix(".txt").is_file())
        if not self.items:
            raise DatasetError(f"data.root {str(root)!r} holds no image + .txt pair")
        self.size = size

    def __len__(self) -> int:
        """Number of pairs found."""
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any] | None:
        """Pair ``i``, or None when the image is corrupt or the caption empty."""
        image_path, text_path = self.items[i]
        caption: Caption | None = read_caption_file(text_path)
        if caption is None:
            return None
        image = _load_image(image_path, self.size)
        return None if image is None else {"image": image, "caption": caption, "index": int(i)}


class ShapePairs(Dataset):
    """Procedural pairs: a coloured shape on a grey background, captioned ``"a <colour> <shape>"``.

    Every pair is a pure function of ``(seed, index)``.

    Args:
        num_pairs: dataset length.
        size: image side.
        seed: base seed.
    """

    def __init__(self, num_pairs: int, size: int, seed: int = 0) -> None:
        self.num_pairs, self.size, self.seed = num_pairs, size, seed

    def __len__(self) -> int:
        """Number of pairs."""
        return self.num_pairs

    def __getitem__(self, i: int) -> dict[str, Any]:
        """Pair ``i``: ``{"image": (3, size, size), "caption": str, "index": i}``."""
        rng = np.random.default_rng([self.seed, i])
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        names = list(COLOURS)
        colour = names[int(rng.integers(len(names)))]
        s = self.size
        r = s * rng.uniform(0.25, 0.4)
        cx, cy = rng.uniform(r, s - r, size=2)
        yy, xx = np.mgrid[0:s, 0:s] + 0.5
        inside = shape_mask(shape, xx - cx, yy - cy, r, float(rng.uniform(0, 2 * np.pi)))
        bg = rng.uniform(0.35, 0.65)
        img = np.full((3, s, s), bg, dtype=np.float32)
        img[:, inside] = np.asarray(COLOURS[colour], dtype=np.float32)[:, None]
        return {"image": torch.from_numpy(img), "caption": f"a {colour} {shape}", "index": int(i)}


class InMemoryPairs(Dataset):
    """Every readable pair of a source decoded once and kept as uint8 (small studies on real captions).

    Args:
        source: the pair source (None samples are left out).

    Shape:
        images: (N, 3, S, S) uint8.
    """

    def __init__(self, source: Dataset) -> None:
        kept = [s for s in (source[i] for i in range(len(source))) if s is not None]  # type: ignore[arg-type]
        if not kept:
            raise DatasetError("InMemoryPairs: the source has no readable pair")
        self.images = torch.stack([(s["image"] * 255).round().to(torch.uint8) for s in kept])
        self.captions: list[Caption] = [s["caption"] for s in kept]

    def __len__(self) -> int:
        """Number of pairs."""
        return len(self.captions)

    def __getitem__(self, i: int) -> dict[str, Any]:
        """Pair ``i`` as floats in [0, 1]."""
        return {"image": self.images[i].float() / 255.0, "caption": self.captions[i], "index": int(i)}


@register_dataset(PREFIX + "shapes")
def _shapes(root: str | None, split: str, transform: Any, cfg: SFCLIPConfig) -> Dataset:
    return ShapePairs(cfg.data.num_pairs, cfg.vision.img_size, cfg.data.seed + (0 if split == "train" else 1000))


@register_dataset(PREFIX + "folder")
def _folder(root: str | None, split: str, transform: Any, cfg: SFCLIPConfig) -> Dataset:
    return PairFolder(root or cfg.data.root, cfg.vision.img_size)


@register_dataset(PREFIX + "webdataset")
def _webdataset(root: str | None, split: str, transform: Any, cfg: SFCLIPConfig) -> Dataset:
    from sfclip.tar_shards import TarPairs

    return TarPairs(cfg.data.shards, cfg.vision.img_size, cfg.data.index_cache)


@register_dataset(PREFIX + "openclipart")
def _openclipart(root: str | None, split: str, transform: Any, cfg: SFCLIPConfig) -> Dataset:
    from sfclip.openclipart import OpenClipart

    d = cfg.data
    return OpenClipart(root or d.root, cfg.vision.img_size, split, d.test_fraction, d.seed)


@register_dataset(PREFIX + "emoji")
def _emoji(root: str | None, split: str, transform: Any, cfg: SFCLIPConfig) -> Dataset:
    from sfclip.emoji_set import FONT, EmojiSet

    return EmojiSet(cfg.vision.img_size, ["en"], font=root or cfg.data.root or FONT)


def registered_sources() -> tuple[str, ...]:
    """The ``data.source`` names in the registry."""
    return tuple(n[len(PREFIX):] for n in list_datasets(PREFIX))


def build_dataset(cfg: SFCLIPConfig, split: str | None = None) -> Dataset:
    """The pairs ``cfg.data`` names, at the student's image size, with LaCLIP's rewrites when listed.

    Args:
        cfg: the run configuration.
        split: ``"train"`` / ``"test"`` for the sources that split (default ``cfg.data.split``).

    Raises:
        DatasetError: a missing folder / shard / package, or no pair in it.
    """
    builder = get_dataset_builder(cfg.data.source, PREFIX, "data.source")
    data = builder(root=None, split=split or cfg.data.split, transform=None, cfg=cfg)
    if cfg.data.rewrites:
        from sfclip.rewrites import RewrittenCaptions

        data = RewrittenCaptions(data, cfg.data.rewrites, cfg.data.rewrite_min_words)
    return data
