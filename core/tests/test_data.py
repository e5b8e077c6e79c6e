"""Datasets, collation, augmentations: corrupt files skipped and counted, clear path errors."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from sparse_core.data import (
    DatasetError,
    FashionMNIST,
    ImageFolderDataset,
    MultiCropTransform,
    SyntheticShapes,
    TwoViewDataset,
    build_dataset,
    collate_skip_none,
    eval_transform,
    read_idx,
    render_shape,
    two_view_transform,
)
from sparse_core.data.fashion_mnist import DEFAULT_ROOT, is_available
from sparse_core.testing import write_idx


def _write_png(path: Path, value: int, size: int = 12) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path)


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    """Two classes, 3 good images each, plus a truncated PNG and JPEG, an empty file and a garbage JPEG."""
    root = tmp_path / "imgs"
    for c, cls in enumerate(["cat", "dog"]):
        for i in range(3):
            _write_png(root / cls / f"{i}.png", 40 * c + i)
    good = (root / "cat" / "0.png").read_bytes()
    (root / "cat" / "z_truncated.png").write_bytes(good[: len(good) // 2])
    (root / "dog" / "z_empty.png").write_bytes(b"")
    (root / "dog" / "z_garbage.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg" * 5)
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(root / "dog" / "z_truncated.jpg", quality=95)
    jpg = (root / "dog" / "z_truncated.jpg").read_bytes()
    (root / "dog" / "z_truncated.jpg").write_bytes(jpg[: len(jpg) // 2])
    (root / "dog" / "notes.txt").write_text("ignored: not an image suffix")
    return root


def test_image_folder_skips_and_counts_corrupt_files(
    image_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ds = ImageFolderDataset(image_root)
    assert ds.classes == ["cat", "dog"]
    assert len(ds) == 10  # 6 good + 4 corrupt image files; notes.txt ignored
    with caplog.at_level(logging.WARNING, logger="sparse_core.data"):
        items = [ds[i] for i in range(len(ds))]
    bad = [str(p.name) for (p, _), it in zip(ds.samples, items) if it is None]
    assert sorted(bad) == ["z_empty.png", "z_garbage.jpg", "z_truncated.jpg", "z_truncated.png"]
    assert ds.num_skipped == 4
    assert sum("skipping unreadable sample" in r.message for r in caplog.records) == 4
    good = [it for it in items if it is not None]
    assert all(it["image"].shape == (3, 12, 12) and it["image"].dtype == torch.float32 for it in good)
    assert [it["label"] for it in good] == [0, 0, 0, 1, 1, 1]
    assert torch.allclose(good[4]["image"], torch.full((3, 12, 12), 41 / 255))

    # Through a DataLoader (worker copies count separately; the collate counts in every case).
    loader = DataLoader(ds, batch_size=10, num_workers=2, collate_fn=collate_skip_none)
    batch = next(iter(loader))
    assert batch["num_skipped"] == 4
    assert batch["image"].shape == (6, 3, 12, 12)
    assert batch["label"].dtype == torch.long and batch["label"].tolist() == [0, 0, 0, 1, 1, 1]


def test_image_folder_path_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DatasetError, match=r"nope does not exist.*root/<class>/<image>"):
        ImageFolderDataset(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"empty is empty"):
        ImageFolderDataset(empty)
    (tmp_path / "txt" / "a").mkdir(parents=True)
    (tmp_path / "txt" / "a" / "x.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"txt contains no image files"):
        ImageFolderDataset(tmp_path / "txt")
    # Registry: root/<split>/<class>/<img> is used when the split folder exists.
    _write_png(tmp_path / "split" / "val" / "a" / "0.png", 1)
    assert len(build_dataset("image_folder", root=tmp_path / "split", split="val")) == 1
    with pytest.raises(DatasetError, match="needs root"):
        build_dataset("image_folder")
    with pytest.raises(DatasetError, match="unknown dataset 'imagenet'; registered: fashion_mnist"):
        build_dataset("imagenet", root=tmp_path)


def test_collate_rules() -> None:
    s = {
        "image": torch.zeros(3, 4, 4),
        "label": 1,
        "w": 0.5,
        "path": "a",
        "views": [torch.ones(3, 8, 8), torch.ones(3, 4, 4)],
    }
    b = collate_skip_none([s, None, dict(s, label=2), None])
    assert b["num_skipped"] == 2
    assert b["image"].shape == (2, 3, 4, 4)
    assert b["label"].dtype == torch.long and b["label"].tolist() == [1, 2]
    assert b["w"].dtype == torch.float32
    assert b["path"] == ["a", "a"]
    assert [v.shape for v in b["views"]] == [(2, 3, 8, 8), (2, 3, 4, 4)]
    assert collate_skip_none([None, None]) == {"num_skipped": 2}


def test_shapes_deterministic_and_masks_match_colours() -> None:
    a = SyntheticShapes(20, image_size=32, seed=3)
    b = SyntheticShapes(20, image_size=32, seed=3)
    c = SyntheticShapes(20, image_size=32, seed=4)
    torch.manual_seed(0)
    x0 = a[7]
    torch.manual_seed(123)  # global RNG must not matter
    assert torch.equal(x0["image"], b[7]["image"]) and torch.equal(x0["mask"], b[7]["mask"])
    assert not torch.equal(x0["image"], c[7]["image"])
    tr, te = (build_dataset("shapes", split=sp, num_samples=4, image_size=16) for sp in ("train", "test"))
    assert not torch.equal(tr[0]["image"], te[0]["image"])  # type: ignore[index]
    labels = [a[i]["label"] for i in range(20)]
    assert labels == [i % 5 for i in range(20)]
    for i in range(20):
        s = render_shape(3, i, 32)
        img, mask, col = s["image"], s["mask"], s["color"]
        assert img.shape == (3, 32, 32) and mask.shape == (32, 32) and mask.dtype == torch.bool
        assert 0.0 <= img.min() and img.max() <= 1.0
        assert 10 < mask.sum() < 32 * 32 * 0.6  # a visible shape, not the whole image
        # Every mask pixel has exactly the shape colour, and almost no background pixel does.
        assert torch.equal(img[:, mask], col[:, None].expand(-1, int(mask.sum())))
        near = ((img[:, ~mask] - col[:, None]).abs().max(0).values < 0.02).float().mean()
        assert near < 0.02
    # Colour carries no label information: colours of one class vary.
    cols = torch.stack([render_shape(3, i, 32)["color"] for i in range(0, 50, 5)])
    assert cols.std(0).min() > 0.1


def test_shapes_joint_geometric_transform_keeps_mask_aligned() -> None:
    ds = SyntheticShapes(4, image_size=32, seed=0, transform=v2.RandomHorizontalFlip(p=1.0))
    raw = render_shape(0, 1, 32)
    out = ds[1]
    assert torch.equal(out["mask"], raw["mask"].flip(-1))
    assert torch.equal(out["image"], raw["image"].flip(-1))


def test_two_view_and_multicrop_shapes_and_global_rng() -> None:
    base = SyntheticShapes(8, image_size=32, seed=0)
    ds = TwoViewDataset(base, two_view_transform(image_size=24))
    torch.manual_seed(0)
    a = ds[2]
    torch.manual_seed(0)
    b = ds[2]
    assert set(a) == {"views", "label", "index"}
    assert len(a["views"]) == 2 and all(v.shape == (3, 24, 24) for v in a["views"])
    assert torch.equal(a["views"][0], b["views"][0]) and torch.equal(a["views"][1], b["views"][1])
    assert not torch.equal(a["views"][0], a["views"][1])
    mc = TwoViewDataset(base, MultiCropTransform(global_size=32, local_size=16, num_local=3))
    batch = collate_skip_none([mc[i] for i in range(4)])
    assert [tuple(v.shape) for v in batch["views"]] == [(4, 3, 32, 32)] * 2 + [(4, 3, 16, 16)] * 3
    # Grey 1-channel input becomes RGB; eval transform is deterministic.
    grey = torch.randint(0, 256, (1, 28, 28), dtype=torch.uint8)
    ev = eval_transform(image_size=24, resize_ratio=1.0)
    assert ev(grey).shape == (3, 24, 24) and torch.equal(ev(grey), ev(grey))


def test_two_view_dataset_propagates_skips(image_root: Path) -> None:
    ds = TwoViewDataset(ImageFolderDataset(image_root), two_view_transform(image_size=8))
    batch = collate_skip_none([ds[i] for i in range(len(ds))])
    assert batch["num_skipped"] == 4 and ds.num_skipped == 4
    assert batch["views"][0].shape == (6, 3, 8, 8)


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_idx_reader(tmp_path: Path, gz: bool) -> None:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    sfx = ".gz" if gz else ""
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{sfx}", imgs, gz)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{sfx}", labels, gz)
    ds = FashionMNIST(tmp_path, split="test")
    assert len(ds) == 5
    x = ds[2]
    assert x["label"] == 4 and x["image"].shape == (1, 28, 28)
    assert torch.equal((x["image"] * 255).round().to(torch.uint8)[0], torch.from_numpy(imgs[2]))
    x3 = FashionMNIST(tmp_path, split="test", channels=3)[2]["image"]
    assert x3.shape == (3, 28, 28) and torch.equal(x3[0], x3[2])
    assert not is_available(tmp_path)  # the test split alone is not enough
    write_idx(tmp_path / f"train-images-idx3-ubyte{sfx}", imgs, gz)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{sfx}", labels, gz)
    assert is_available(tmp_path) and not is_available(tmp_path / "absent")
    (tmp_path / f"train-images-idx3-ubyte{sfx}").unlink()
    with pytest.raises(
        DatasetError, match=r"lacks train-images-idx3-ubyte.*apt-get install -y dataset-fashion-mnist"
    ):
        FashionMNIST(tmp_path, split="train")
    # Truncated payload -> clear error.
    raw = (tmp_path / "t10k-images-idx3-ubyte").read_bytes() if not gz else None
    if raw is not None:
        (tmp_path / "t10k-images-idx3-ubyte").write_bytes(raw[:-10])
        with pytest.raises(DatasetError, match="truncated or corrupt"):
            read_idx(tmp_path / "t10k-images-idx3-ubyte")


def test_fashion_mnist_missing_root_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(
        DatasetError, match=r"does not exist; install it with `sudo apt-get install -y dataset-fashion-mnist`"
    ):
        FashionMNIST(tmp_path / "absent")


@pytest.mark.skipif(not DEFAULT_ROOT.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_real_files() -> None:
    ds = build_dataset("fashion_mnist", split="test")
    assert len(ds) == 10_000
    labels = torch.as_tensor(ds.labels)
    assert torch.equal(torch.bincount(labels), torch.full((10,), 1000))
    x = ds[0]
    assert x["image"].shape == (1, 28, 28) and 0.0 <= x["image"].min() and x["image"].max() <= 1.0
