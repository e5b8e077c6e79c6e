"""Fashion-MNIST from IDX files (Debian package ``dataset-fashion-mnist`` or any local copy)."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from sparse_core.data.errors import DatasetError

DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` installs the files."""

ROOT_ENV = "SPARSE_SSL_FASHION_MNIST"
"""Environment variable overriding :data:`DEFAULT_ROOT`."""

INSTALL_HINT = (
    "install it with `sudo apt-get install -y dataset-fashion-mnist` (files go to "
    f"{DEFAULT_ROOT}), or pass root=<folder holding train-images-idx3-ubyte.gz, ...> "
    f"or set ${ROOT_ENV}"
)

CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_PREFIX = {"train": "train", "test": "t10k"}
# IDX type codes -> numpy big-endian dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed, detected from the magic bytes).

    Args:
        path: ``*-idx{1,3}-ubyte`` or ``*.gz`` file.

    Returns:
        Array with the shape stored in the header, e.g. ``(N, 28, 28)`` uint8 for images and
        ``(N,)`` uint8 for labels.

    Raises:
        DatasetError: Bad magic number or a payload shorter/longer than the header says.
    """
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DatasetError(f"read_idx: {path} is a corrupt gzip file ({err})") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DatasetError(f"read_idx: {path} is not an IDX file (bad magic number {raw[:4]!r})")
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DatasetError(
            f"read_idx: {path} holds {len(raw) - header} data bytes but its header {shape} needs {expected} "
            "(truncated or corrupt file)"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find(root: Path, stem: str) -> Path | None:
    """Return ``root/stem.gz`` or ``root/stem`` if either exists."""
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    return None


def is_available(root: str | os.PathLike[str] | None = None) -> bool:
    """Whether both splits' image and label files are present (``root`` as for :class:`FashionMNIST`).

    Lets a demo choose Fashion-MNIST where it is installed and generated data elsewhere.
    """
    folder = Path(root if root is not None else os.environ.get(ROOT_ENV, DEFAULT_ROOT))
    stems = [f"{p}-{kind}-ubyte" for p in _PREFIX.values() for kind in ("images-idx3", "labels-idx1")]
    return folder.is_dir() and all(_find(folder, stem) is not None for stem in stems)


class FashionMNIST(Dataset[Any]):
    """Fashion-MNIST (60k train / 10k test, 28x28 grey, 10 classes) read from local IDX files.

    The whole split is loaded in memory at construction (47 MB for train). Items are
    ``{"image": Tensor, "label": int}``. Without a transform, ``"image"`` is ``(C, 28, 28)`` float32
    in [0, 1] with ``C = channels``; with one, the transform receives the ``(C, 28, 28)`` uint8
    tensor.

    Args:
        root: Folder with ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``. Default:
            ``$SPARSE_SSL_FASHION_MNIST`` or ``/usr/share/datasets/fashion-mnist`` (Debian
            ``dataset-fashion-mnist``).
        split: ``"train"`` or ``"test"``.
        transform: Optional callable applied to the uint8 image tensor.
        channels: 1 (grey) or 3 (grey repeated, for RGB models and colour augmentations).

    Raises:
        DatasetError: Folder or files missing (message says how to install them), or files corrupt.
    """

    classes = CLASSES
    num_skipped = 0  # the data is validated at construction; nothing is skipped later

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        split: Literal["train", "test"] = "train",
        transform: Callable[[Tensor], Any] | None = None,
        channels: Literal[1, 3] = 1,
    ) -> None:
        if split not in _PREFIX:
            raise DatasetError(f"FashionMNIST: split must be 'train' or 'test', got {split!r}")
        if channels not in (1, 3):
            raise DatasetError(f"FashionMNIST: channels must be 1 or 3, got {channels}")
        self.root = Path(root if root is not None else os.environ.get(ROOT_ENV, DEFAULT_ROOT))
        self.split = split
        self.transform = transform
        self.channels = channels
        if not self.root.is_dir():
            raise DatasetError(f"FashionMNIST: folder {self.root} does not exist; {INSTALL_HINT}")
        prefix = _PREFIX[split]
        img_path = _find(self.root, f"{prefix}-images-idx3-ubyte")
        lbl_path = _find(self.root, f"{prefix}-labels-idx1-ubyte")
        if img_path is None or lbl_path is None:
            raise DatasetError(
                f"FashionMNIST: {self.root} lacks {prefix}-images-idx3-ubyte[.gz] and/or "
                f"{prefix}-labels-idx1-ubyte[.gz]; {INSTALL_HINT}"
            )
        images = read_idx(img_path)
        labels = read_idx(lbl_path)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels) or len(images) == 0:
            raise DatasetError(
                f"FashionMNIST: {img_path} {images.shape} and {lbl_path} {labels.shape} do not form a "
                "non-empty (N, H, W) / (N,) pair"
            )
        self.images = torch.from_numpy(images.astype(np.uint8))  # (N, 28, 28) uint8
        self.labels = torch.from_numpy(labels.astype(np.int64))  # (N,) long

    def __len__(self) -> int:
        """Number of images in the split."""
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Return ``{"image": (C, 28, 28), "label": int}``."""
        image = self.images[index].unsqueeze(0).expand(self.channels, -1, -1).contiguous()  # (C, H, W)
        out = self.transform(image) if self.transform is not None else image.to(torch.float32) / 255.0
        return {"image": out, "label": int(self.labels[index])}
