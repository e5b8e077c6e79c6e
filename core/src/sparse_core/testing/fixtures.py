"""Small data the tests build themselves: a Fashion-MNIST-format folder of class-dependent images.

The real Fashion-MNIST (Debian ``dataset-fashion-mnist``) is used where installed; tests that only need the
*format* (and distinct, class-dependent garments) write this one, so they pass on any machine.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

__all__ = ["write_idx", "write_fashion_mnist"]


def write_idx(path: Path, arr: np.ndarray, gz: bool = True) -> None:
    """Write ``arr`` (uint8, any shape) as an IDX file (gzip-compressed when ``gz``)."""
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def write_fashion_mnist(folder: str | Path, num_train: int = 200, num_test: int = 100, seed: int = 0) -> Path:
    """Write both splits of a Fashion-MNIST-format folder of class-dependent images.

    Class ``c`` is a filled rectangle whose width grows with ``c``, plus per-image noise (every image distinct);
    labels are ``i % 10``.

    Returns:
        The folder (created if needed), readable by :class:`~sparse_core.data.FashionMNIST`.
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", num_train), ("t10k", num_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, (n, 28, 28))
        for i, c in enumerate(labels):
            half = 2 + int(c)  # half-width 2..11 px
            images[i, 4:24, 14 - half:14 + half] += 160 + rng.integers(0, 50)
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", np.clip(images, 0, 255).astype(np.uint8))
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels.astype(np.uint8))
    return root
