"""Image-text pairs: a folder of ``name.<ext>`` + ``name.txt`` files, procedural coloured shapes, and (in
:mod:`sfclip.tar_shards`) webdataset tar shards; :func:`build_dataset` picks the one ``data.source`` names.

Samples are ``{"image": (3, S, S) float in [0, 1], "caption": str, "index": int}`` (``index``: the dataset
index, the key of precomputed teacher features). A corrupt image or an empty caption gives ``None``, which the
engine's collate drops and counts (``skipped`` in the metrics).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as TF

from sfclip.config import SFCLIPConfig
from sparse_core.data.errors import DatasetError
from sparse_core.data.shapes import SHAPES, shape_mask

__all__ = ["PairFolder", "ShapePairs", "COLOURS", "IMAGE_EXTS", "build_dataset"]

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.9, 0.1, 0.1), "green": (0.1, 0.8, 0.2), "blue": (0.15, 0.25, 0.95), "yellow": (0.95, 0.9, 0.1),
    "purple": (0.6, 0.15, 0.8), "orange": (1.0, 0.55, 0.05), "white": (0.97, 0.97, 0.97), "black": (0.05, 0.05, 0.05),
}
"""Colour names of :class:`ShapePairs` and their RGB values."""


def _load_image(path: Path, size: int) -> torch.Tensor | None:
    """RGB image resized to ``size`` x ``size`` in [0, 1], or None when it cannot be decoded."""
    try:
        with Image.open(path) as raw:
            im = raw.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return TF.to_dtype(TF.pil_to_tensor(im), torch.float32, scale=True)


class PairFolder(Dataset):
    """Pairs ``<stem><image ext>`` + ``<stem>.txt`` found recursively under ``root``.

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
        caption = text_path.read_text(encoding="utf-8", errors="replace").strip()
        if not caption:
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


def build_dataset(cfg: SFCLIPConfig) -> Dataset:
    """The training pairs ``cfg.data`` names, at the student's image size.

    Raises:
        DatasetError: a missing folder / shard, or no pair in it.
    """
    if cfg.data.source == "shapes":
        return ShapePairs(cfg.data.num_pairs, cfg.vision.img_size, cfg.data.seed)
    if cfg.data.source == "webdataset":
        from sfclip.tar_shards import TarPairs

        return TarPairs(cfg.data.shards, cfg.vision.img_size, cfg.data.index_cache)
    return PairFolder(cfg.data.root, cfg.vision.img_size)
