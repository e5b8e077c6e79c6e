"""The moving_fashion source: core's MovingFashion videos, labels, unseen-garment evaluation split, extraction."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from scale_video.config import ExtractDataConfig
from scale_video.extract import extract
from scale_video.sources import build_source
from sparse_core.data.video import MovingFashion
from sparse_core.features import FeatureStore
from sparse_core.testing import write_fashion_mnist

sys.path.insert(0, str(Path(__file__).parent))
from extract_testutils import _cfg


@pytest.fixture(scope="module")
def garments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fashion_mnist(tmp_path_factory.mktemp("fmnist"))


def _data(root: Path, **kw: object) -> ExtractDataConfig:
    return ExtractDataConfig(source="moving_fashion", num_videos=12, val_num_videos=6, num_frames=8, image_size=48,
                             seed=3, garments_root=str(root), **kw)  # type: ignore[arg-type]


def test_training_videos_are_cores_moving_fashion(garments: Path) -> None:
    src = build_source(_data(garments), "train")
    ref = MovingFashion(12, num_frames=8, image_size=48, seed=3, split="train", root=garments)
    assert len(src) == 12 and src.classes == list(ref.classes) and src.name(4) == "moving_fashion_train[4]"
    assert [src.label(i) for i in range(12)] == [i % 10 for i in range(12)]  # the main garment's class
    frames = src.read(5, lambda n: [0, 3, 7])
    assert frames.shape == (3, 48, 48, 3) and torch.equal(frames, torch.from_numpy(ref.video(5))[[0, 3, 7]])


def test_evaluation_videos_show_unseen_garments(garments: Path) -> None:
    """split val = core's test split (Fashion-MNIST test images), rendered with seed + val_seed_offset."""
    cfg = _data(garments)
    src = build_source(cfg, "val")
    ref = MovingFashion(6, num_frames=8, image_size=48, seed=3 + cfg.val_seed_offset, split="test", root=garments)
    assert len(src) == 6 and src.name(0) == "moving_fashion_test[0]"
    assert torch.equal(src.read(2, lambda n: list(range(n))), torch.from_numpy(ref.video(2)))
    train = build_source(cfg, "train")
    train_images = train.videos.images[np.concatenate([train.videos.params(i)["garments"] for i in range(12)])]
    val_images = src.videos.images[np.concatenate([src.videos.params(i)["garments"] for i in range(6)])]
    assert not any((v == t).all() for v in val_images for t in train_images)


def test_motion_labels_are_headings(garments: Path) -> None:
    src = build_source(_data(garments, label_kind="motion", num_directions=4), "train")
    assert src.classes == ["heading_0", "heading_1", "heading_2", "heading_3"]
    assert [src.label(i) for i in range(12)] == [(i // 10) % 4 for i in range(12)]


def test_extraction_on_moving_fashion(tmp_path: Path, garments: Path) -> None:
    cfg = _cfg(tmp_path, "--data.source", "moving_fashion", "--data.garments_root", str(garments),
               "--data.image_size", "40", "--stores", "[train, val_eval]", "--passes", "1")
    summary = extract(cfg)
    assert summary["train"]["records"] == 5 and summary["val_eval"]["records"] == 3
    train, val = FeatureStore(tmp_path / "train"), FeatureStore(tmp_path / "val_eval")
    np.testing.assert_array_equal(train.array("label"), np.arange(5) % 10)
    np.testing.assert_array_equal(val.array("label"), np.arange(3) % 10)
    assert train.meta["num_classes"] == 10 and np.isfinite(np.asarray(val.array("feats"), np.float32)).all()


def test_missing_garments_refused(tmp_path: Path) -> None:
    from sparse_core.data.errors import DatasetError

    with pytest.raises(DatasetError):
        build_source(_data(tmp_path / "nothing"), "train")
