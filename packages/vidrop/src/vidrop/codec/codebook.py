"""Fitting and storing the pixel-patch codebook (faiss k-means, imported lazily)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidrop.codec.grid import frames_to_patches

__all__ = ["PatchCodebook", "fit_codebook", "import_faiss", "load_codebook", "sample_patches"]


def import_faiss() -> Any:
    """Import faiss lazily with an install hint (``faiss-cpu`` by default, ``vidrop[gpu]`` for faiss-gpu)."""
    try:
        import faiss
    except ImportError as err:  # pragma: no cover - faiss-cpu is a dependency
        raise ImportError("the k-means codec needs faiss: `pip install faiss-cpu` "
                          "(or `pip install 'vidrop[gpu]'` for faiss-gpu on CUDA machines)") from err
    return faiss


@dataclass
class PatchCodebook:
    """A k-means codebook over flattened ``p x p x 3`` uint8 pixel patches.

    Attributes:
        centroids: ``(K, p*p*3)`` float32 centroids in pixel units [0, 255], channel-last patch order
            ``(py, px, c)``.
        patch_size: the patch side ``p`` in pixels (thesis default 10).
    """

    centroids: np.ndarray
    patch_size: int

    def __post_init__(self) -> None:
        self.centroids = np.ascontiguousarray(self.centroids, dtype=np.float32)
        d = self.patch_size * self.patch_size * 3
        if self.centroids.ndim != 2 or self.centroids.shape[1] != d:
            raise ValueError(f"centroids must be (K, {d}) for patch size {self.patch_size}, "
                             f"got {tuple(self.centroids.shape)}")

    @property
    def num_clusters(self) -> int:
        """Number of centroids ``K``."""
        return int(self.centroids.shape[0])

    @property
    def index_dtype(self) -> np.dtype:
        """Smallest unsigned integer type that holds an index: uint8, uint16 (K <= 65536) or uint32."""
        if self.num_clusters <= 256:
            return np.dtype(np.uint8)
        if self.num_clusters <= 65536:
            return np.dtype(np.uint16)
        return np.dtype(np.uint32)

    def centroids_uint8(self) -> np.ndarray:
        """Centroids rounded to uint8 pixels, ``(K, p, p, 3)`` (what decoding gathers)."""
        p = self.patch_size
        return np.clip(np.rint(self.centroids), 0, 255).astype(np.uint8).reshape(-1, p, p, 3)

    def save(self, path: str | Path) -> Path:
        """Write the codebook as ``.npz`` (centroids + patch size)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            np.savez(fh, centroids=self.centroids, patch_size=np.int64(self.patch_size))
        return path

    @classmethod
    def load(cls, path: str | Path) -> PatchCodebook:
        """Read a codebook written by :meth:`save`."""
        with np.load(Path(path)) as data:
            return cls(centroids=data["centroids"], patch_size=int(data["patch_size"]))


def load_codebook(path: str | Path) -> PatchCodebook:
    """:meth:`PatchCodebook.load` for a path a user gave: a file that is not a codebook is a one-line error.

    Raises:
        sparse_core.data.errors.WeightsFileError: ``path`` is empty, truncated, or not an ``.npz`` holding
            ``centroids`` and ``patch_size`` of matching shapes.
    """
    from sparse_core.data.errors import WeightsFileError

    try:
        return PatchCodebook.load(path)
    except Exception as err:  # np.load raises ValueError / OSError / BadZipFile / KeyError on a bad file
        raise WeightsFileError(f"{path} is not a valid codebook file (an .npz written by vidrop-compress fit: "
                               f"centroids, patch_size): {type(err).__name__}: {err}") from None


def sample_patches(videos: Iterable[np.ndarray], patch_size: int, num_patches: int, seed: int = 0) -> np.ndarray:
    """Sample patches uniformly from videos for fitting the codebook.

    Args:
        videos: iterable of ``(T, H, W, 3)`` uint8 arrays (frames cropped to multiples of ``patch_size``).
        patch_size: patch side ``p``.
        num_patches: total number of patches to return (fewer if the videos hold fewer).
        seed: sampling seed.

    Returns:
        ``(M, p*p*3)`` float32 patches, ``M <= num_patches``.
    """
    rng = np.random.default_rng(seed)
    chunks = [frames_to_patches(v, patch_size).reshape(-1, patch_size * patch_size * 3) for v in videos]
    if not chunks:
        raise ValueError("no videos to sample codebook patches from")
    allp = np.concatenate(chunks)
    if len(allp) > num_patches:
        allp = allp[rng.choice(len(allp), size=num_patches, replace=False)]
    return np.ascontiguousarray(allp, dtype=np.float32)


def fit_codebook(patches: np.ndarray, num_clusters: int, patch_size: int, niter: int = 20, seed: int = 0,
                 gpu: bool = False, verbose: bool = False) -> PatchCodebook:
    """Fit ``num_clusters`` centroids with faiss k-means (thesis: p = 10, 65536 clusters).

    Args:
        patches: ``(M, p*p*3)`` float32 patches (see :func:`sample_patches`); ``M >= num_clusters``.
        num_clusters: codebook size ``K``.
        patch_size: patch side ``p``.
        niter: Lloyd iterations.
        seed: faiss seed.
        gpu: run k-means on all visible GPUs (needs faiss-gpu).
        verbose: faiss progress output.
    """
    faiss = import_faiss()
    x = np.ascontiguousarray(patches, dtype=np.float32)
    if len(x) < num_clusters:
        raise ValueError(f"need at least {num_clusters} patches to fit {num_clusters} clusters, got {len(x)}")
    km = faiss.Kmeans(x.shape[1], num_clusters, niter=niter, seed=seed, gpu=gpu, verbose=verbose,
                      max_points_per_centroid=max(256, len(x) // num_clusters + 1))
    km.train(x)
    return PatchCodebook(centroids=km.centroids.copy(), patch_size=patch_size)
