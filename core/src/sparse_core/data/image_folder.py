"""Class-per-subfolder image dataset (``root/<class>/<image>``), robust to corrupt files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from sparse_core.data.errors import DatasetError, SkipCounter

IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".jpg",
    ".jpeg",
    ".png",
    ".ppm",
    ".bmp",
    ".pgm",
    ".tif",
    ".tiff",
    ".webp",
)

Transform = Callable[[Any], Any]


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any PIL mode to ``(H, W, 3)`` uint8 RGB, keeping the full range of high bit-depth images.

    PIL's ``convert("RGB")`` clips 16- and 32-bit grey values to 255 (a 16-bit PNG comes out binarised), so
    those modes are rescaled here: 16-bit by ``>> 8``, 32-bit integer and float grey by the value range the
    image uses (0..65535 when it fits in 16 bits, as for 16-bit PNGs PIL opens as ``"I"``). Palette images
    with transparency go through RGBA (PIL's advice); alpha is dropped (as torchvision's loader does).
    """
    if img.mode.startswith("I;16"):
        grey = (np.asarray(img).astype(np.uint32) >> 8).astype(np.uint8)
    elif img.mode in ("I", "F"):
        arr = np.asarray(img).astype(np.float64)
        top = 65535.0 if img.mode == "I" and arr.min() >= 0 and arr.max() <= 65535 else max(float(arr.max()), 1e-12)
        if img.mode == "F" and 0.0 <= arr.min() and arr.max() <= 1.0:
            top = 1.0  # a float image in [0, 1]
        grey = np.clip(np.rint(arr / top * 255.0), 0, 255).astype(np.uint8)
    else:
        if img.mode == "P" and "transparency" in img.info:
            img = img.convert("RGBA")
        return np.asarray(img.convert("RGB"), dtype=np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def read_image(path: str | os.PathLike[str]) -> Tensor:
    """Decode an image file fully into an RGB uint8 tensor.

    The pixel data is decoded eagerly (``Image.load``), so a truncated file raises here instead of
    producing a half-grey image later. Every PIL mode converts with its full range (see :func:`_to_rgb`):
    16-bit grey ``v`` becomes ``v >> 8``; CMYK, palette, grey + alpha and RGBA become RGB. An image larger
    than PIL's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``, about 179 million pixels at twice
    the default) raises ``DecompressionBombError`` (a dataset skips and counts it).

    Args:
        path: Image file.

    Returns:
        ``(3, H, W)`` uint8 tensor.

    Raises:
        OSError: The file is missing, empty, truncated or not an image.
    """
    with Image.open(path) as img:
        img.load()
        arr = _to_rgb(img)  # (H, W, 3)
    return torch.from_numpy(np.array(arr, copy=True)).permute(2, 0, 1).contiguous()


def read_resized(source: str | os.PathLike[str] | IO[bytes], size: int) -> Tensor:
    """Decode an image file (or file object) as :func:`read_image` does, resized to ``size`` x ``size``.

    Bicubic resize of the RGB image (every PIL mode at its full range, palette transparency through RGBA, so
    PIL warns about none of them), then ``[0, 1]`` float.

    Returns:
        ``(3, size, size)`` float32 in [0, 1].

    Raises:
        OSError, ValueError, Image.DecompressionBombError: the file cannot be decoded.
    """
    with Image.open(source) as img:
        img.load()
        rgb = Image.fromarray(_to_rgb(img)).resize((size, size), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.array(rgb, copy=True)).permute(2, 0, 1).to(torch.float32) / 255.0


def to_float_image(image: Tensor) -> Tensor:
    """Convert a uint8 image to float32 in [0, 1]; float images are returned unchanged."""
    if image.dtype == torch.uint8:
        return image.to(torch.float32).div_(255.0)
    return image


class ImageFolderDataset(SkipCounter, Dataset[Any]):
    """Images stored as ``root/<class_name>/**/<file>``; labels are sorted class-folder indices.

    Files directly under ``root`` (no class folder) are not allowed unless ``root`` has no
    subfolders at all, in which case every image gets label ``-1`` (unlabelled folder).

    Each item is ``{"image": Tensor, "label": int}``. Without a transform, ``"image"`` is a
    ``(3, H, W)`` float32 tensor in [0, 1]; with one, the transform receives the ``(3, H, W)`` uint8
    tensor (what torchvision.transforms.v2 pipelines accept) and its output is stored as is (a list
    of views from a multi-view transform is fine, see :class:`sparse_core.data.augment.TwoViewDataset`).
    A corrupt file gives ``None`` (warning + ``num_skipped``).

    Args:
        root: Dataset folder.
        transform: Optional callable applied to the uint8 image tensor.
        extensions: Accepted file suffixes (lower case).

    Raises:
        DatasetError: ``root`` does not exist, is not a folder, or holds no image files.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        transform: Transform | None = None,
        extensions: tuple[str, ...] = IMAGE_EXTENSIONS,
    ) -> None:
        self.root = Path(root)
        self.transform = transform
        self.num_skipped = 0
        if not self.root.exists():
            raise DatasetError(
                f"ImageFolderDataset: path {self.root} does not exist; expected a folder with one "
                f"subfolder of images per class (root/<class>/<image>{extensions[0]})"
            )
        if not self.root.is_dir():
            raise DatasetError(
                f"ImageFolderDataset: {self.root} is a file; expected a folder of class subfolders"
            )
        class_dirs = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        self.classes: list[str] = [p.name for p in class_dirs]
        self.samples: list[tuple[Path, int]] = []
        if class_dirs:
            for label, d in enumerate(class_dirs):
                self.samples.extend((f, label) for f in _image_files(d, extensions, recursive=True))
        else:
            self.samples.extend((f, -1) for f in _image_files(self.root, extensions, recursive=False))
        if not self.samples:
            what = (
                "is empty"
                if not any(self.root.iterdir())
                else f"contains no image files ({', '.join(extensions)})"
            )
            raise DatasetError(
                f"ImageFolderDataset: folder {self.root} {what}; expected root/<class>/<image> files"
            )
        if not any(_opens(p) for p, _ in self.samples):  # stops at the first readable file
            names = ", ".join(p.name for p, _ in self.samples[:3])
            raise DatasetError(
                f"ImageFolderDataset: none of the {len(self.samples)} image files of {self.root} can be "
                f"opened as an image (e.g. {names}): nothing to train on"
            )

    def __len__(self) -> int:
        """Number of image files found (corrupt ones included until they are read)."""
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        """Return ``{"image": ..., "label": int}`` or ``None`` if the file cannot be decoded."""
        path, label = self.samples[index]
        try:
            image = read_image(path)
        except Exception as err:  # PIL raises OSError, ValueError, SyntaxError, ... on bad files
            self._skip(path, err)
            return None
        out = self.transform(image) if self.transform is not None else to_float_image(image)
        return {"image": out, "label": label}


def _opens(path: Path) -> bool:
    """Whether PIL recognises ``path`` as an image (header only: cheap, no pixel decoding)."""
    try:
        with Image.open(path):
            return True
    except Exception:  # PIL raises UnidentifiedImageError, OSError, ValueError, ... on bad files
        return False


def _image_files(folder: Path, extensions: tuple[str, ...], recursive: bool) -> list[Path]:
    """Sorted image files of ``folder`` (hidden files ignored)."""
    it = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p for p in it if p.is_file() and p.suffix.lower() in extensions and not p.name.startswith(".")
    )
