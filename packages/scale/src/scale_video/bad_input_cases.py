"""SCALE's cases of the bad-input corpus (:mod:`sparse_core.testing.corpus`): ``scale-extract`` on unusable
video roots and output folders, a folder source without its evaluation root, videos under ``data.min_side``,
``scale-eval`` on unlabelled stores, ``scale-train`` without its features."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sparse_core.features import FeatureStoreWriter
from sparse_core.testing.corpus import BadRun, noise_videos, standard_cases, unknown_key_cases

__all__ = ["cases"]


def _unlabelled_store(root: Path, n: int = 6, clips: int = 4, dim: int = 8) -> Path:
    """A feature store as ``scale-extract`` writes it from a flat folder: every label -1."""
    fields = {"feats": ((clips, dim), "float16"), "boxes": ((clips, 6), "float32"), "label": ((), "int64"),
              "video": ((), "int64"), "pass": ((), "int64")}
    rng = np.random.default_rng(0)
    FeatureStoreWriter(root, fields).write_shard(0, {
        "feats": rng.standard_normal((n, clips, dim)).astype(np.float16),
        "boxes": rng.random((n, clips, 6)).astype(np.float32), "label": np.full(n, -1, np.int64),
        "video": np.arange(n, dtype=np.int64), "pass": np.zeros(n, np.int64)})
    return root


def cases(base: Path) -> list[BadRun]:
    """Write the inputs under ``base`` and return the cases (exit 2, the key or file named)."""
    from scale_video.cli import evaluate, extract, train

    base = Path(base)
    good = noise_videos(base / "good" / "a", 12, 32).parent
    small = noise_videos(base / "small" / "a", 12, 8).parent
    store = _unlabelled_store(base / "flat_store")
    tiny = ["--config", "tiny"]

    def folder(root: Path) -> list[str]:
        return ["--data.source", "folder", "--data.root", str(root), "--data.val_root", str(root)]

    return [
        *standard_cases("scale-extract", extract.main, base / "extract", ".mp4", data=folder,
                        out=lambda p: ["--out_dir", str(p)], good=good, common=tiny),
        BadRun("scale-extract/folder_without_val_root", extract.main,
               [*tiny, "--data.source", "folder", "--data.root", str(good), "--out_dir", str(base / "f1")],
               ["data.val_root"], out=base / "f1"),
        BadRun("scale-extract/videos_too_small", extract.main, [*tiny, *folder(small), "--out_dir", str(base / "f2")],
               ["small", "too small"], out=base / "f2"),
        BadRun("scale-eval/unlabelled_store", evaluate.main,
               ["--train_root", str(store), "--test_root", str(store), "--out", str(base / "e"), "--device", "cpu",
                "--probe.probes", "[linear, knn]"], ["train_root", "no label"]),
        BadRun("scale-train/missing_features", train.main,
               [*tiny, "--data.root", str(base / "no_features"), "--train.out_dir", str(base / "t")],
               ["no_features"], out=base / "t"),
        *unknown_key_cases("scale-video"),
    ]
